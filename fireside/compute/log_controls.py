"""Lambda's advanced logging controls on the platform's side: a function's LoggingConfig.

Under `LogFormat: Text` (the default) the platform writes its familiar lines (`INIT_START`,
`START`, `END`, `REPORT`, `INIT_REPORT`) and keeps every line the function prints. Under `JSON`
it writes each of those events as a Telemetry API record instead, one JSON object a line
(`{"time", "type": "platform.start", "record": {...}}`; `END` becomes `platform.runtimeDone`),
and filters by level:

- system records by `SystemLogLevel` (`DEBUG` > `INFO` > `WARN`): every record Fireside writes
  is an `INFO` event, so `WARN` keeps none of them;
- application lines by `ApplicationLogLevel`: a line that is a JSON object is at its `"level"`
  (`TRACE` ... `FATAL`; Python's `WARNING`/`CRITICAL` are `WARN`/`FATAL`; a missing or unknown
  level is `INFO`, as AWS documents for runtimes that print JSON themselves) and is dropped
  below the function's level. Other lines are kept. The runtimes filter their own loggers
  first (`AWS_LAMBDA_LOG_LEVEL`); this is the platform's side of the same rule.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

from fireside.compute.errors import invalid

APPLICATION_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LEVELS = ("DEBUG", "INFO", "WARN")
_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}
#: The level of every platform record Fireside writes (Lambda's lifecycle events are INFO).
_PLATFORM_EVENT_LEVEL = SYSTEM_LEVELS.index("INFO")


_LEVEL_MEMBERS = ("ApplicationLogLevel", "SystemLogLevel")


def logging_settings(current: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """A function's LoggingConfig after CreateFunction (`current` empty) or an update: the
    members given replace those set before. Levels filter JSON logs only; AWS refuses them in
    the same request as a Text format (its message says "Json"), and a Text function keeps none.
    """
    merged = {**current, **given}
    if merged.get("LogFormat", "Text") == "JSON":
        return merged
    if any(member in given for member in _LEVEL_MEMBERS):
        raise invalid(
            'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from '
            'your request or change the LogFormat to "Json" and try again.'
        )
    return {key: value for key, value in merged.items() if key not in _LEVEL_MEMBERS}


def _application_rank(level: object) -> int:
    name = str(level).upper() if isinstance(level, str) else ""
    name = _ALIASES.get(name, name)
    return APPLICATION_LEVELS.index(name) if name in APPLICATION_LEVELS else 2  # INFO


def _time(epoch: float) -> str:
    millis = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}Z"


@dataclass(frozen=True, slots=True)
class Report:
    """What the platform says about one finished invocation."""

    request_id: str
    duration_ms: float
    memory_size: int
    max_memory_used: int
    init_ms: float | None
    #: `success`, `error` (the function failed), `failure` (the runtime crashed), `timeout`.
    status: str
    error_type: str | None
    produced_bytes: int


@dataclass(frozen=True, slots=True)
class LogControls:
    """How one function's environments write platform events and filter its own lines."""

    json: bool = False
    application_level: int = 0
    system_level: int = 0

    @classmethod
    def of(cls, logging_config: dict[str, str]) -> LogControls:
        """From `FunctionConfig.logging_config()` (levels are present under JSON only)."""
        if logging_config.get("LogFormat") != "JSON":
            return cls()
        application = logging_config.get("ApplicationLogLevel", "INFO")
        system = logging_config.get("SystemLogLevel", "INFO")
        return cls(
            json=True,
            application_level=_application_rank(application),
            system_level=SYSTEM_LEVELS.index(system) if system in SYSTEM_LEVELS else 1,
        )

    # -- the function's own output ----------------------------------------------------------
    def keeps(self, line: bytes) -> bool:
        """Whether an application line reaches the log under `ApplicationLogLevel`."""
        if not self.json or self.application_level == 0 or not line.startswith(b"{"):
            return True
        try:
            record = json.loads(line)
        except ValueError:
            return True
        if not isinstance(record, dict):
            return True
        return _application_rank(record.get("level")) >= self.application_level

    # -- platform events ---------------------------------------------------------------------
    def _record(self, kind: str, record: dict[str, Any]) -> str | None:
        if self.system_level > _PLATFORM_EVENT_LEVEL:
            return None
        event = {"time": _time(time.time()), "type": kind, "record": record}
        return json.dumps(event, separators=(",", ":"))

    def init_start(self, runtime: str, function: str, version: str) -> str | None:
        if not self.json:
            return f"INIT_START Runtime Version: {runtime}"
        record = {
            "initializationType": "on-demand",
            "phase": "init",
            "runtimeVersion": runtime,
            "functionName": function,
            "functionVersion": version,
        }
        return self._record("platform.initStart", record)

    def start(self, request_id: str, version: str) -> str | None:
        if not self.json:
            return f"START RequestId: {request_id} Version: {version}"
        return self._record("platform.start", {"requestId": request_id, "version": version})

    def init_failed(self, error_type: str, duration_ms: float) -> str | None:
        if not self.json:
            return f"INIT_REPORT Status: error\tError Type: {error_type}"
        record = {
            "initializationType": "on-demand",
            "phase": "init",
            "status": "error",
            "errorType": error_type,
            "metrics": {"durationMs": round(duration_ms, 2)},
        }
        return self._record("platform.initReport", record)

    def end(self, report: Report) -> list[str]:
        """`END` and `REPORT`, or `platform.runtimeDone` and `platform.report`."""
        billed = max(1, math.ceil(report.duration_ms))
        if not self.json:
            line = (
                f"REPORT RequestId: {report.request_id}\tDuration: {report.duration_ms:.2f} ms\t"
                f"Billed Duration: {billed} ms\t"
                f"Memory Size: {report.memory_size} MB\tMax Memory Used: {report.max_memory_used} MB\t"
            )
            if report.init_ms is not None:
                line += f"Init Duration: {report.init_ms:.2f} ms\t"
            return [f"END RequestId: {report.request_id}", line]
        done: dict[str, Any] = {"requestId": report.request_id, "status": report.status}
        metrics: dict[str, Any] = {
            "durationMs": round(report.duration_ms, 2),
            "billedDurationMs": billed,
            "memorySizeMB": report.memory_size,
            "maxMemoryUsedMB": report.max_memory_used,
        }
        if report.init_ms is not None:
            metrics["initDurationMs"] = round(report.init_ms, 2)
        summary: dict[str, Any] = {"requestId": report.request_id, "metrics": metrics}
        summary["status"] = report.status
        if report.error_type is not None:
            done["errorType"] = summary["errorType"] = report.error_type
        done["metrics"] = {
            "durationMs": round(report.duration_ms, 2),
            "producedBytes": report.produced_bytes,
        }
        records = [
            self._record("platform.runtimeDone", done),
            self._record("platform.report", summary),
        ]
        return [record for record in records if record is not None]
