"""OpenAPI documents as API Gateway takes them: JSON, else YAML (both APIs' imports).

YAML's aliases let a small document stand for a huge one (each alias repeats its anchor's
whole subtree): a loaded document is walked once, every alias counted again, and refused past
`MAX_NODES`, before any import code walks it.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

__all__ = ["MAX_NODES", "DocumentError", "load"]

#: Nodes a document may expand to (AWS's 6 MB import cap holds far fewer).
MAX_NODES = 1_000_000

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DocumentError(ValueError):
    """Neither JSON nor YAML, or larger than `MAX_NODES` once its aliases are expanded."""


def load(text: str) -> Any:
    """The document `text` holds: JSON, else YAML."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    except RecursionError:
        raise DocumentError("the document is nested too deeply") from None
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid JSON or YAML ({exc})") from None
    except RecursionError:
        raise DocumentError("the document is nested too deeply") from None
    _check_size(document)
    return document


def _check_size(document: Any) -> None:
    pending, seen = [document], 0
    while pending:
        node = pending.pop()
        seen += 1
        if seen > MAX_NODES:
            raise DocumentError(f"the document expands to more than {MAX_NODES:,} nodes")
        if isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
