"""The broker's settings: defaults, `fireside.toml`, environment overrides and their checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from fireside.config import ConfigError, load_settings


def test_defaults_toml_and_environment(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environ={})
    assert (settings.kafka_port, settings.kafka_auto_create_topics) == (9092, True)
    assert settings.kafka_default_partitions == 1 and settings.kafka_advertised_host == ""
    (tmp_path / "fireside.toml").write_text(
        "[server]\nkafka_port = 19092\nkafka_default_partitions = 3\n"
        'kafka_auto_create_topics = false\nkafka_advertised_host = "broker.example"\n'
    )
    settings = load_settings(data_dir=tmp_path, environ={})
    assert (settings.kafka_port, settings.kafka_default_partitions) == (19092, 3)
    assert not settings.kafka_auto_create_topics
    assert settings.kafka_advertised_host == "broker.example"
    settings = load_settings(
        data_dir=tmp_path,
        environ={"FIRESIDE_KAFKA_PORT": "0", "FIRESIDE_KAFKA_AUTO_CREATE_TOPICS": "on",
                 "FIRESIDE_KAFKA_MAX_REQUEST_BYTES": "65536"},
    )  # fmt: skip
    assert (settings.kafka_port, settings.kafka_max_request_bytes) == (0, 65536)
    assert settings.kafka_auto_create_topics


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("FIRESIDE_KAFKA_PORT", "70000"),
        ("FIRESIDE_KAFKA_PORT", "-2"),
        ("FIRESIDE_KAFKA_DEFAULT_PARTITIONS", "0"),
        ("FIRESIDE_KAFKA_MAX_MESSAGE_BYTES", "10"),
        ("FIRESIDE_KAFKA_PORT", "nine"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, var: str, value: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(data_dir=tmp_path, environ={var: value})
