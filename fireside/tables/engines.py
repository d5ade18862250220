"""Choosing a storage engine from `--tables-backend` / FIRESIDE_TABLES_BACKEND."""

from __future__ import annotations

from pathlib import Path

from fireside.tables.engine import Engine

__all__ = ["open_engine"]


def open_engine(backend: str, data_dir: Path) -> Engine:
    """ "" or "sqlite": `<data_dir>/tables.sqlite`; a `postgresql://` URL: that database."""
    if backend in ("", "sqlite"):
        from fireside.tables.sqlite import SqliteEngine

        return SqliteEngine(data_dir / "tables.sqlite")
    if backend.startswith(("postgresql://", "postgres://")):
        try:
            from fireside.tables.postgres import PostgresEngine
        except ImportError as exc:  # pragma: no cover - psycopg is an optional dependency
            raise ValueError(
                "the postgresql tables backend needs psycopg: pip install 'fireside[postgresql]'"
            ) from exc
        return PostgresEngine(backend)
    raise ValueError(f"unknown tables backend {backend!r}: use sqlite or a postgresql:// URL")
