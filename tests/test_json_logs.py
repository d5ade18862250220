"""Lambda's advanced logging controls (LoggingConfig) through boto3 against live servers.

Under `LogFormat: JSON` every line of an invoke's log tail is a JSON object: the platform's
records (`platform.start`, `platform.runtimeDone`, `platform.report`) filtered by
`SystemLogLevel`, and the runtimes' own records (Python's `logging`, Node.js's `console`,
Ruby's `Logger`) filtered by `ApplicationLogLevel`. Under `Text` nothing changes.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, FunctionFactory, Server, python_zip
from tests.runtime_helpers import Servers, deploy, function_log, invoke

ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TEXT_LEVELS = {"LogFormat": "Text"}


def records(tail: str) -> list[dict[str, Any]]:
    """Every line of a log tail, each of which must be one JSON object."""
    lines = [line for line in tail.splitlines() if line]
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(record, dict) for record in parsed), tail
    return parsed


def platform(found: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = [record for record in found if record.get("type") == kind]
    assert len(matches) == 1, (kind, found)
    return matches[0]


def application(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in found if "type" not in record]


def check_platform_records(found: list[dict[str, Any]], request_id: str) -> None:
    start = platform(found, "platform.start")
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert ISO_MILLIS.match(start["time"])
    done = platform(found, "platform.runtimeDone")
    assert done["record"]["requestId"] == request_id
    assert done["record"]["status"] == "success"
    assert set(done["record"]["metrics"]) == {"durationMs", "producedBytes"}
    report = platform(found, "platform.report")["record"]
    assert report["requestId"] == request_id and report["status"] == "success"
    metrics = report["metrics"]
    assert {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"} <= set(metrics)
    assert metrics["memorySizeMB"] == 128
    assert metrics["billedDurationMs"] >= 1


# -- the control plane ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "logging",
    [
        {"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"},
        {"LogFormat": "Text", "SystemLogLevel": "WARN"},
        {"ApplicationLogLevel": "ERROR"},  # Text is the default format
    ],
)
def test_log_levels_need_json(lam: Any, logging: dict[str, str]) -> None:
    with pytest.raises(ClientError) as caught:
        lam.create_function(
            FunctionName="levels-without-json",
            Runtime="python3.11",
            Handler="app.handler",
            Role=ROLE,
            Code={"ZipFile": python_zip("def handler(e, c):\n    return 1\n")},
            LoggingConfig=logging,
        )
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == (
        'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your '
        'request or change the LogFormat to "Json" and try again.'
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="levels-without-json")


def test_update_to_text_drops_levels_and_refuses_new_ones(
    lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(
        "def handler(e, c):\n    return 1\n",
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"},
    )
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(
            FunctionName=name, LoggingConfig={"LogFormat": "Text", "SystemLogLevel": "DEBUG"}
        )
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "Text"})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "JSON"})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    # The WARN set before the switch to Text is gone: JSON again starts from INFO.
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
        "LogGroup": f"/aws/lambda/{name}",
    }  # fmt: skip


# -- Python -----------------------------------------------------------------------------------

PYTHON_LOGS = """
import logging
logger = logging.getLogger("orders")

def handler(event, context):
    logger.debug("debug line")
    logger.info("info line", extra={"orderId": 42})
    logger.warning("warning line")
    try:
        {}["missing"]
    except KeyError:
        logger.exception("lookup failed")
    print('{"level": "DEBUG", "message": "printed debug"}')
    print('{"level": "ERROR", "message": "printed error"}')
    print("plain text")
    if event.get("fail"):
        raise ValueError("handler failed")
    return "ok"
"""


def python_invoke(lam: Any, name: str, event: dict[str, Any]) -> tuple[Any, str, str]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail")
    tail = base64.b64decode(out["LogResult"]).decode()
    return json.loads(out["Payload"].read()), tail, out["ResponseMetadata"]["RequestId"]


def test_python_json_records_and_levels(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(
        PYTHON_LOGS, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"}
    )
    result, tail, request_id = python_invoke(lam, name, {})
    assert result == "ok"
    lines = tail.splitlines()
    assert "plain text" in lines  # not JSON: the platform keeps it as it is
    found = records("\n".join(line for line in lines if line != "plain text"))
    check_platform_records(found, request_id)
    own = application(found)
    assert [record["message"] for record in own] == [
        "warning line", "lookup failed", "printed error",
    ]  # fmt: skip
    warning, failure = own[0], own[1]
    assert warning == {
        "timestamp": warning["timestamp"], "level": "WARNING", "message": "warning line",
        "logger": "orders", "requestId": request_id,
    }  # fmt: skip
    assert ISO_MILLIS.match(warning["timestamp"])
    assert failure["level"] == "ERROR"
    assert failure["errorType"] == "KeyError"
    assert failure["errorMessage"] == "'missing'"
    assert failure["stackTrace"] and "app.py" in failure["stackTrace"][0]
    assert failure["location"].endswith(":handler:12")


def test_python_json_debug_keeps_extra_fields_and_logs_the_error(
    lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(
        PYTHON_LOGS, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"}
    )
    result, tail, request_id = python_invoke(lam, name, {"fail": True})
    assert result["errorType"] == "ValueError"
    found = records("\n".join(line for line in tail.splitlines() if line != "plain text"))
    own = application(found)
    messages = [record.get("message") for record in own]
    assert messages[:4] == ["debug line", "info line", "warning line", "lookup failed"]
    assert "printed debug" in messages and "printed error" in messages
    assert own[1]["orderId"] == 42
    error = own[-1]  # the uncaught-error record, as AWS's runtime writes it
    assert list(error) == [
        "timestamp", "level", "errorMessage", "errorType", "requestId", "stackTrace",
    ]  # fmt: skip
    assert error["level"] == "ERROR" and error["errorType"] == "ValueError"
    assert error["errorMessage"] == "handler failed" and error["requestId"] == request_id
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", error["timestamp"])
    done = platform(found, "platform.runtimeDone")["record"]
    assert done["status"] == "error" and done["errorType"] == "ValueError"
    assert platform(found, "platform.report")["record"]["status"] == "error"


def test_system_log_level_warn_drops_platform_records(
    lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(PYTHON_LOGS, LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    _, tail, _ = python_invoke(lam, name, {})
    found = records("\n".join(line for line in tail.splitlines() if line != "plain text"))
    assert [record for record in found if "type" in record] == []
    # ApplicationLogLevel defaults to INFO.
    assert [record["message"] for record in application(found)] == [
        "info line", "warning line", "lookup failed", "printed error",
    ]  # fmt: skip


def test_json_cold_start_writes_init_start(server: Server, make_function: FunctionFactory) -> None:
    name = make_function(PYTHON_LOGS, LoggingConfig={"LogFormat": "JSON"})
    lam = server.client()
    python_invoke(lam, name, {})
    log = function_log(server, name, "platform.report")
    first = json.loads(log.splitlines()[0].split("\t", 2)[2])
    assert first["type"] == "platform.initStart"
    assert first["record"]["runtimeVersion"] == "python3.11"
    assert first["record"]["phase"] == "init"
    report = next(
        json.loads(line.split("\t", 2)[2])
        for line in log.splitlines()
        if '"platform.report"' in line
    )
    assert report["record"]["metrics"]["initDurationMs"] > 0


def test_json_timeout_and_failed_init(lam: Any, make_function: FunctionFactory) -> None:
    slow = make_function(
        "import time\ndef handler(e, c):\n    time.sleep(30)\n",
        Timeout=1,
        LoggingConfig={"LogFormat": "JSON"},
    )
    _, tail, request_id = python_invoke(lam, slow, {})
    found = [json.loads(line) for line in tail.splitlines() if line.startswith("{")]
    done = platform(found, "platform.runtimeDone")["record"]
    assert done["requestId"] == request_id
    assert done["status"] == "timeout" and done["errorType"] == "Sandbox.Timedout"
    assert platform(found, "platform.report")["record"]["status"] == "timeout"

    broken = make_function("import no_such_module\n", LoggingConfig={"LogFormat": "JSON"})
    result, tail, request_id = python_invoke(lam, broken, {})
    assert result["errorType"] == "Runtime.ImportModuleError"
    found = records(tail)
    init = platform(found, "platform.initReport")["record"]
    assert init["status"] == "error" and init["errorType"] == "Runtime.ImportModuleError"
    assert init["phase"] == "init" and init["metrics"]["durationMs"] > 0
    assert platform(found, "platform.start")["record"]["requestId"] == request_id
    report = platform(found, "platform.report")["record"]
    assert report["status"] == "failure" and report["errorType"] == "Runtime.ImportModuleError"


def test_text_format_is_unchanged(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(PYTHON_LOGS, LoggingConfig=TEXT_LEVELS)
    _, tail, request_id = python_invoke(lam, name, {})
    lines = tail.splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert re.match(
        rf"^\[WARNING\]\t\S+Z\t{request_id}\twarning line$", lines[1]
    )  # the root logger stays at WARNING
    # No filtering by level (the traceback's last line runs on into the next print, as AWS's
    # text formatter ends a record with its exception, without a newline).
    assert 'KeyError: \'missing\'{"level": "DEBUG", "message": "printed debug"}' in lines
    assert lines[-2] == f"END RequestId: {request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")


# -- Node.js and Ruby ----------------------------------------------------------------------------

NODE = shutil.which("node")
RUBY = shutil.which("ruby")


@pytest.fixture(scope="module")
def language_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    env: dict[str, str] = {}
    if NODE:
        env["FIRESIDE_NODE_20"] = NODE
    if RUBY:
        env["FIRESIDE_RUBY_3_2"] = RUBY
    found = Servers(tmp_path_factory.mktemp("json-logs"), env)
    yield found
    found.stop()


NODE_LOGS = """
exports.handler = async (event) => {
  console.debug('debug line');
  console.info('info line');
  console.log({ nested: { n: 1 } });
  console.warn('warn %s', 'formatted', new TypeError('typed'));
  console.error(new RangeError('alone'));
  if (event.fail) throw new Error('handler failed');
  return 'ok';
};
"""


@pytest.mark.skipif(NODE is None, reason="no Node.js on this host")
def test_node_json_records_and_levels(language_servers: Servers) -> None:
    srv = language_servers()
    name = deploy(
        srv, {"app.js": NODE_LOGS}, "app.handler", "nodejs20.x",
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"},
    )  # fmt: skip
    result, tail, out = invoke(srv, name, {})
    assert result == "ok"
    request_id = out["ResponseMetadata"]["RequestId"]
    found = records(tail)
    check_platform_records(found, request_id)
    own = application(found)
    assert [record["level"] for record in own] == ["INFO", "INFO", "WARN", "ERROR"]
    assert own[0] == {
        "timestamp": own[0]["timestamp"], "level": "INFO", "requestId": request_id,
        "message": "info line",
    }  # fmt: skip
    assert ISO_MILLIS.match(own[0]["timestamp"])
    assert own[1]["message"] == {"nested": {"n": 1}}  # one object stays an object
    assert own[2]["message"].startswith("warn formatted TypeError: typed")
    assert own[2]["errorType"] == "TypeError" and own[2]["errorMessage"] == "typed"
    assert own[2]["stackTrace"][0] == "TypeError: typed"
    alone = own[3]["message"]
    assert alone["errorType"] == "RangeError" and alone["errorMessage"] == "alone"

    result, tail, out = invoke(srv, name, {"fail": True})
    assert result["errorMessage"] == "handler failed"
    error = application(records(tail))[-1]  # "Invoke Error": the error alone, no label
    assert error["level"] == "ERROR"
    assert error["requestId"] == out["ResponseMetadata"]["RequestId"]
    assert error["message"]["errorType"] == "Error"
    assert error["message"]["errorMessage"] == "handler failed"


@pytest.mark.skipif(NODE is None, reason="no Node.js on this host")
def test_node_text_format_is_unchanged(language_servers: Servers) -> None:
    srv = language_servers()
    name = deploy(srv, {"app.js": NODE_LOGS}, "app.handler", "nodejs20.x")
    _, tail, out = invoke(srv, name, {})
    request_id = out["ResponseMetadata"]["RequestId"]
    lines = tail.splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert re.match(rf"^\S+Z\t{request_id}\tDEBUG\tdebug line$", lines[1])
    assert lines[-2] == f"END RequestId: {request_id}"


RUBY_LOGS = """
require 'logger'
LOGGER = Logger.new($stdout)

def handler(event:, context:)
  LOGGER.debug('debug line')
  LOGGER.info('info line')
  LOGGER.warn('warn line')
  begin
    raise ArgumentError, 'bad argument'
  rescue ArgumentError => e
    LOGGER.error(e)
  end
  puts 'plain puts'
  'ok'
end
"""


@pytest.mark.skipif(RUBY is None, reason="no Ruby on this host")
def test_ruby_json_records_and_levels(language_servers: Servers) -> None:
    srv = language_servers()
    name = deploy(
        srv, {"app.rb": RUBY_LOGS}, "app.handler", "ruby3.2",
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"},
    )  # fmt: skip
    result, tail, out = invoke(srv, name, {})
    assert result == "ok"
    request_id = out["ResponseMetadata"]["RequestId"]
    lines = tail.splitlines()
    assert "plain puts" in lines
    found = records("\n".join(line for line in lines if line != "plain puts"))
    check_platform_records(found, request_id)
    own = application(found)
    assert [record["level"] for record in own] == ["WARN", "ERROR"]
    assert own[0] == {
        "timestamp": own[0]["timestamp"], "level": "WARN", "message": "warn line",
        "requestId": request_id,
    }  # fmt: skip
    assert ISO_MICROS.match(own[0]["timestamp"])
    error = own[1]
    assert error["message"] == "bad argument" and error["errorType"] == "ArgumentError"
    assert error["errorMessage"] == "bad argument"
    assert "app.rb:10:in" in error["stackTrace"][0]
    assert error["location"].endswith(":10")


@pytest.mark.skipif(RUBY is None, reason="no Ruby on this host")
def test_ruby_text_format_is_unchanged(language_servers: Servers) -> None:
    srv = language_servers()
    name = deploy(srv, {"app.rb": RUBY_LOGS}, "app.handler", "ruby3.2")
    _, tail, out = invoke(srv, name, {})
    request_id = out["ResponseMetadata"]["RequestId"]
    lines = tail.splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert re.match(rf"^D, \[\S+ #\d+\] DEBUG {request_id} -- : debug line$", lines[1])
    assert lines[-2] == f"END RequestId: {request_id}"
