"""Fireside's runtime for ``python3.x`` functions: the process inside each execution environment.

Started as ``<python3.X> -S -u -B bootstrap.py``, it loads the function's handler, then serves
invocations over the Lambda Runtime API 2018-06-01 at ``$AWS_LAMBDA_RUNTIME_API``, and behaves for
the function author like AWS's managed Python runtime: the same ``sys.path`` layout, ``context``
object, log line format, error types and messages, error bodies and stack traces.

Two constraints shape this file. It runs on the function's own interpreter (Python 3.9 to 3.14)
without ``site``, so it uses only the standard library and never imports ``fireside``. And it is
on every cold start's path, so it keeps imports down: no http.client (which drags in email), no
urllib or datetime, not even the ``socket`` module (its enum set-up costs milliseconds); it speaks
HTTP/1.1 over a raw ``_socket`` itself.
"""

from __future__ import annotations

import _socket
import importlib
import json
import logging
import os
import sys
import time
import traceback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import NoReturn

    Handler = Callable[[object, "LambdaContext"], object]
    Frame = tuple[str, int, str, "str | None"]

_RUNTIME = "/2018-06-01/runtime"
_NEXT = f"{_RUNTIME}/invocation/next"
_PIPELINE_LIMIT = 1 << 20  # well under any response limit
_ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
_UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. To determine if the runtime has been updated, check the "
    "runtime version in the INIT_START log entry. If this error correlates with a change in the "
    "runtime version, you may be able to mitigate this error by temporarily rolling back to the "
    "previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)

# The invocation being served, stamped on every log record (module state, as in AWS's runtime,
# because log calls from anywhere in the function must see it).
_request_id = ""
_tenant_id: str | None = None


class _Fault(Exception):
    """An error the runtime reports under its own ``Runtime.*`` type rather than the user's."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def _die(message: str) -> NoReturn:
    sys.stderr.write(f"fireside bootstrap: {message}\n")
    # os._exit rather than sys.exit: a non-daemon thread left by the function must not keep a
    # runtime that can no longer serve alive.
    os._exit(1)


# --- HTTP -------------------------------------------------------------------------------------


class _RuntimeApi:
    """A minimal HTTP/1.1 keep-alive client for the Runtime API on a raw socket."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            _die(f"bad AWS_LAMBDA_RUNTIME_API {address!r}")
        self.address = address
        self._address = (host.strip("[]"), int(port))
        version = ".".join(map(str, sys.version_info[:3]))
        self._common = f"Host: {address}\r\nUser-Agent: fireside-python/{version}\r\n"
        self._sock: _socket.socket | None = None
        self._buf = bytearray()
        # Reads land in this one buffer: `recv(256 KiB)` allocated (mmap, mremap, munmap) and
        # page-faulted a fresh 256 KiB on every read, three system calls more per invoke.
        self._chunk = memoryview(bytearray(262144))
        self._answered = False
        #: The answer to the `/next` pipelined behind the last `/response` or `/error`.
        self.then: tuple[int, dict[str, str], bytes] | None = None

    def _connect(self) -> _socket.socket:
        host, port = self._address
        error: OSError = ConnectionRefusedError(f"no address for {host}")
        # The host as bytes: given a str, getaddrinfo imports the idna codec (a millisecond).
        found = _socket.getaddrinfo(host.encode(), port, 0, _socket.SOCK_STREAM)
        for family, kind, proto, _, addr in found:
            sock = _socket.socket(family, kind, proto)
            try:
                # Explicitly blocking: /next waits as long as it takes, whatever default timeout
                # the function's code may have set with socket.setdefaulttimeout().
                sock.settimeout(None)
                sock.connect(addr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            # Each request leaves in one send; Nagle plus delayed ACKs could still stall it 40 ms.
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            return sock
        raise error

    def connect_ahead(self) -> None:
        """Connect now (a parked snapshot copy, whose Runtime API already listens): its first
        request leaves at once. One that fails is retried once on a new connection."""
        try:  # noqa: SIM105 (contextlib is one import more on every cold start)
            self._sock = self._connect()
        except OSError:
            pass  # its first request connects

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._buf.clear()

    def request(
        self, method: str, path: str, body: bytes = b"", headers: str = "", then: str = ""
    ) -> tuple[int, dict[str, str], bytes]:
        """One request and its answer. With `then` (a path), a `GET` of it is sent in the same
        write (pipelined) and its answer is read after the first one's, into `self.then`."""
        head = f"{method} {path} HTTP/1.1\r\n{self._common}{headers}"
        if method != "GET":
            head += f"Content-Length: {len(body)}\r\n"
        message = (head + "\r\n").encode("latin-1") + body
        if then:
            message += f"GET {then} HTTP/1.1\r\n{self._common}\r\n".encode("latin-1")
        retried = False
        while True:
            fresh = self._sock is None
            try:
                if self._sock is None:
                    self._sock = self._connect()
                self._answered = False
                self._sock.sendall(message)
                first = self._read_response()
                if then and 200 <= first[0] < 300 and self._sock is not None:
                    self._answered = False
                    try:
                        self.then = self._read_response()
                    except OSError:
                        # Closed after the first answer, before any byte of the second: the
                        # pipelined request went with the connection; the next one asks again.
                        if self._answered:
                            raise
                        self._close()
                return first
            except OSError:
                self._close()
                # A kept-alive connection the server has since dropped fails before any byte of
                # the answer arrives: only that is retried, once, on a new connection.
                if fresh or retried or self._answered:
                    raise
                retried = True

    def _recv(self) -> bool:
        assert self._sock is not None
        size = self._sock.recv_into(self._chunk)
        if size:
            self._answered = True
            self._buf += self._chunk[:size]
        return size > 0

    def _fill(self, size: int) -> None:
        while len(self._buf) < size:
            if not self._recv():
                raise ConnectionAbortedError("the Runtime API closed the connection")

    def _take(self, size: int) -> bytes:
        self._fill(size)
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def _line(self, separator: bytes = b"\r\n") -> bytes:
        end = self._buf.find(separator)
        while end < 0:
            start = max(0, len(self._buf) - len(separator) + 1)
            self._fill(len(self._buf) + 1)
            end = self._buf.find(separator, start)
        line = bytes(self._buf[:end])
        del self._buf[: end + len(separator)]
        return line

    def _read_response(self) -> tuple[int, dict[str, str], bytes]:
        lines = self._line(b"\r\n\r\n").decode("latin-1").split("\r\n")
        version, status = lines[0][:8], int(lines[0][9:12])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            size = int(self._line().split(b";")[0], 16)
            while size:
                chunks.append(self._take(size))
                self._take(2)
                size = int(self._line().split(b";")[0], 16)
            while self._line():  # trailers, up to the blank line
                pass
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = self._take(int(headers["content-length"]))
        elif status < 200 or status in (204, 304):
            body = b""
        else:  # no length given: the body runs to the end of the connection
            while self._recv():
                pass
            body, connection = bytes(self._buf), "close"
        if connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive"):
            self._close()
        return status, headers, body


def _call(
    api: _RuntimeApi, method: str, path: str, body: bytes = b"", headers: str = "", then: str = ""
) -> tuple[dict[str, str], bytes]:
    try:
        status, response_headers, response_body = api.request(method, path, body, headers, then)
    except (OSError, ValueError, IndexError) as exc:
        _die(f"{method} {path} failed: {exc!r}")
    if not 200 <= status < 300:
        # AWS's runtime also gives up on any non-2xx answer: the platform is tearing it down.
        _die(f"{method} {path}: HTTP {status} {response_body[:500]!r}")
    return response_headers, response_body


def _next_event(api: _RuntimeApi) -> tuple[dict[str, str], bytes]:
    """The next invocation: the answer to the `/next` sent with the last result, if any."""
    answer, api.then = api.then, None
    if answer is None:
        return _call(api, "GET", _NEXT)
    status, headers, body = answer
    if not 200 <= status < 300:
        _die(f"GET {_NEXT}: HTTP {status} {body[:500]!r}")
    return headers, body


# --- Logging ----------------------------------------------------------------------------------


def _stamp(record: logging.LogRecord) -> bool:
    # A handler filter, not a logger one, so records from every logger that reaches the root
    # handler carry the request id.
    record.__dict__["aws_request_id"] = _request_id
    record.__dict__["tenant_id"] = _tenant_id
    return True


class _StdoutHandler(logging.Handler):
    """Writes each formatted record to stdout, where the platform collects the function's logs."""

    def emit(self, record: logging.LogRecord) -> None:
        # No try/except, as in AWS's handler: a record that cannot be formatted raises in the
        # caller instead of printing "--- Logging error ---".
        sys.stdout.write(self.format(record))


# LogRecord attributes that are not the caller's `extra=` fields (those join a JSON record).
# Python 3.12's `taskName` is not among them for AWS's runtime: it joins the record when set.
_RECORD_FIELDS = frozenset(
    (logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() - {"taskName"})
    | {"aws_request_id", "tenant_id"}
)


class _JsonFormatter(logging.Formatter):
    """`AWS_LAMBDA_LOG_FORMAT=JSON`: each record is one JSON object, with the fields AWS's
    runtime writes: timestamp, level, message, logger, requestId; for an exception also
    errorType, errorMessage, stackTrace and location; tenantId and `extra=` fields when given."""

    def format(self, record: logging.LogRecord) -> str:
        # Levels are bucketed to the standard ones (a custom level 25 reads INFO), as AWS does.
        record.levelno = min(50, max(0, record.levelno)) // 10 * 10
        record.levelname = logging.getLevelName(record.levelno)
        millis = int(record.created * 1000) % 1000
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        result: dict[str, object] = {
            "timestamp": f"{stamp}.{millis:03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        exc_info = record.exc_info
        if exc_info and exc_info[0] is not None:
            result["stackTrace"] = traceback.format_tb(exc_info[2])
            result["errorType"] = exc_info[0].__name__
            result["errorMessage"] = str(exc_info[1])
        result["requestId"] = record.__dict__.get("aws_request_id")
        if exc_info:
            result["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        if record.__dict__.get("tenant_id") is not None:
            result["tenantId"] = record.__dict__["tenant_id"]
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in result:
                result[key] = value
        fields = {key: value for key, value in result.items() if value is not None}
        return json.dumps(fields, ensure_ascii=False) + "\n"


def _json_logs() -> bool:
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def _setup_logging() -> None:
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    if _json_logs():
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(_stamp)
    root = logging.getLogger()
    # Only an explicit AWS_LAMBDA_LOG_LEVEL changes the level: by default the root logger stays
    # at WARNING, so logger.info() prints nothing, exactly as on AWS.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = "DEBUG" if level == "TRACE" else level
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


def _log_error(error_type: str, message: str, trace: list[str]) -> None:
    if _json_logs():
        # AWS's runtime stamps this record to the second, without milliseconds or a zone.
        record = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            "level": "ERROR",
            "errorMessage": message,
            "errorType": error_type,
            "requestId": _request_id,
            "stackTrace": trace,
        }
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    description = "[ERROR]"
    if error_type:
        description += " " + error_type
    if message:
        description += (":" if error_type else "") + " " + message
    lines = [description, "Traceback (most recent call last):"]
    for entry in trace:
        for line in entry.splitlines() or [""]:
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    # AWS's format for a runtime without a telemetry pipe: one stdout line, the trace's lines
    # joined by carriage returns and indented with no-break spaces, so a collector that splits
    # on newlines keeps the whole error in one log event.
    sys.stdout.write("\r".join(lines) + "\n")


# --- The context object -----------------------------------------------------------------------


class _Fields:
    """Attributes filled from a JSON object sent with the invocation, missing keys as None."""

    __slots__: tuple[str, ...] = ()
    _KEYS: tuple[str, ...] = ()  # the JSON keys, in slot order, where they differ from them

    def __init__(self, data: dict[str, object]) -> None:
        for i, name in enumerate(self.__slots__):
            setattr(self, name, data.get(self._KEYS[i] if self._KEYS else name))

    def __repr__(self) -> str:
        return _describe(self, self.__slots__)


def _describe(obj: object, fields: tuple[str, ...]) -> str:
    values = ",".join(f"{name}={getattr(obj, name)}" for name in fields)
    return f"{type(obj).__name__}([{values}])"


class CognitoIdentity(_Fields):
    """The Amazon Cognito identity that invoked the function (attributes None without one)."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")
    _KEYS = ("cognitoIdentityId", "cognitoIdentityPoolId")


class Client(_Fields):
    """The client application that invoked the function through the AWS Mobile SDK."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )


class ClientContext(_Fields):
    """The client context the caller passed with the invocation."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, data: dict[str, object]) -> None:
        super().__init__(data)
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else client


def _parse_header(value: str, name: str) -> dict[str, object]:
    try:
        data: dict[str, object] = json.loads(value)
    except Exception as exc:
        raise _Fault(
            "Runtime.LambdaContextUnmarshalError", f"Unable to parse {name} JSON: {exc}"
        ) from None
    return data


#: `os.environ`'s own store (bytes to bytes on POSIX), which its writes update: a lookup there
#: skips the encoding of the name and the mapping's Python-level methods (five per invoke).
_ENVIRON: dict[bytes, bytes] | None = getattr(os.environ, "_data", None)


def _getenv(name: bytes) -> str | None:
    if _ENVIRON is None:
        return os.environ.get(name.decode())
    value = _ENVIRON.get(name)
    return None if value is None else value.decode(sys.getfilesystemencoding(), "surrogateescape")


class LambdaContext:
    """The handler's ``context``: details of the invocation, the function and its environment."""

    def __init__(self, request_id: str, headers: dict[str, str]) -> None:
        # Read on every invoke, as AWS's runtime does (a handler may change them).
        self.aws_request_id = request_id
        self.log_group_name = _getenv(b"AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = _getenv(b"AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = _getenv(b"AWS_LAMBDA_FUNCTION_NAME")
        # A string, as AWS's runtime passes the environment variable through unconverted.
        self.memory_limit_in_mb = _getenv(b"AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = _getenv(b"AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id") or None
        client_context = headers.get("lambda-runtime-client-context")
        self.client_context = (
            ClientContext(_parse_header(client_context, "Client Context"))
            if client_context
            else None
        )
        identity = headers.get("lambda-runtime-cognito-identity")
        self.identity = CognitoIdentity(
            _parse_header(identity, "Cognito Identity") if identity else {}
        )
        deadline = headers.get("lambda-runtime-deadline-ms", "")
        self._deadline_ms = int(deadline) if deadline.isdigit() else 0

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return _describe(self, tuple(name for name in vars(self) if name[0] != "_"))


# --- Errors and payloads ----------------------------------------------------------------------


def _user_frames(tb: TracebackType | None) -> list[Frame]:
    # Plain tuples rather than FrameSummary objects, so Python 3.11+ prints no ^^^^ position
    # markers: the trace entries read exactly as AWS's.
    frames = [(f.filename, f.lineno or 0, f.name, f.line) for f in traceback.extract_tb(tb)]
    # Drop the runtime's own leading frames; for an init error the trace then starts inside
    # importlib, as AWS's does.
    for i, frame in enumerate(frames):
        if "/bootstrap.py" not in frame[0]:
            return frames[i:]
    return frames


def _explain(exc: BaseException) -> tuple[str, str, list[str]]:
    """The errorType, errorMessage and stackTrace AWS's runtime reports for an exception."""
    if isinstance(exc, _Fault):
        return exc.error_type, exc.message, exc.trace
    return type(exc).__name__, str(exc), traceback.format_list(_user_frames(exc.__traceback__))


def _jsonable(obj: object) -> object:
    # Decimals (from DynamoDB via boto3) serialize on AWS, whose runtime uses simplejson. Only
    # look for the class if the module is loaded: otherwise obj cannot be a Decimal.
    decimal = sys.modules.get("decimal")
    if decimal is not None and isinstance(obj, decimal.Decimal):
        exponent = obj.as_tuple().exponent
        if obj.is_nan():
            return float("nan")
        return int(obj) if isinstance(exponent, int) and exponent >= 0 else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# AWS's python3.12 and later runtimes keep non-ASCII characters as they are; older ones escape.
_encoder = json.JSONEncoder(ensure_ascii=sys.version_info < (3, 12), default=_jsonable)


def _error_json(error_type: str, message: str, trace: list[str], request_id: str) -> bytes:
    body = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }
    return _encoder.encode(body).encode("utf-8", "replace")


def _unmarshal(body: bytes, content_type: str | None) -> object:
    # Like AWS's runtime, an event declared as anything but JSON is handed over as raw bytes.
    if (
        content_type
        and content_type != "application/json"
        and content_type.split(";")[0].strip().lower() != "application/json"
    ):
        return body
    try:
        return json.loads(body)
    except Exception as exc:
        raise _Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None


def _marshal(result: object) -> tuple[bytes, str]:
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return _encoder.encode(result).encode("utf-8"), "application/json"
    except Exception as exc:
        raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


# --- Start-up and the invocation loop ---------------------------------------------------------


def _setup_sys_path() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    opt = os.environ.get("FIRESIDE_OPT_ROOT") or "/opt"
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    front = [
        os.environ.get("LAMBDA_TASK_ROOT") or "/var/task",
        f"{opt}/python/lib/{version}/site-packages",
        f"{opt}/python",
    ]
    back = [p for p in os.environ.get("FIRESIDE_RUNTIME_PATH", "").split(os.pathsep) if p]
    # Keep the standard library's entries; drop this script's directory, which Python put first.
    stdlib = [p for p in sys.path if p and os.path.abspath(p) != here]
    # This directory last, as Lambda has /var/runtime: it holds `snapshot_restore_py`.
    sys.path[:] = front + stdlib + back + [here]


def _load_handler(spec: str) -> Handler:
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as exc:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}") from None
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise _Fault(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {module_name} as a handler module",
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise _Fault("Runtime.ImportModuleError", message) from None
    except SyntaxError as exc:
        message = f"Syntax error in module '{module_name}': {exc}"
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise _Fault("Runtime.UserCodeSyntaxError", message, trace) from None
    try:
        handler: Handler = getattr(module, function_name)
    except AttributeError:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise _Fault("Runtime.HandlerNotFound", message) from None
    return handler


def _invoke(api: _RuntimeApi, handler: Handler) -> None:
    global _request_id, _tenant_id
    headers, body = _next_event(api)
    request_id = headers.get("lambda-runtime-aws-request-id")
    if not request_id:
        _die("/next answered without a Lambda-Runtime-Aws-Request-Id")
    _request_id = request_id
    _tenant_id = headers.get("lambda-runtime-aws-tenant-id") or None
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    path = f"{_RUNTIME}/invocation/{request_id}"
    try:
        context = LambdaContext(request_id, headers)
        result = handler(_unmarshal(body, headers.get("content-type")), context)
        payload, content_type = _marshal(result)
    except Exception as exc:
        error_type, message, trace = _explain(exc)
        _log_error(error_type, message, trace)
        # The function's own exceptions go out as "Unhandled" (the Runtime API's usual value);
        # the runtime's faults keep their Runtime.* type.
        kind = error_type if isinstance(exc, _Fault) else "Unhandled"
        extra = f"{_ERROR_TYPE}: {kind}\r\nContent-Type: application/json\r\n"
        error = _error_json(error_type, message, trace, request_id)
        _call(api, "POST", f"{path}/error", error, extra, _pipelined(error))
    else:
        # The result and the request for the next event leave in one write, and their answers
        # come back in one (the Runtime API holds the first for the second): one wake-up of
        # this process per invoke instead of two.
        extra = f"Content-Type: {content_type}\r\n"
        _call(api, "POST", f"{path}/response", payload, extra, _pipelined(payload))


def _pipelined(body: bytes) -> str:
    """`/next`, to send behind a result of `body`: not behind one the Runtime API may refuse
    as too large (this process then exits, and must not have asked for another event)."""
    return _NEXT if len(body) <= _PIPELINE_LIMIT else ""


def _batch_scheduling() -> None:
    """SCHED_BATCH: this process does not preempt the one that woke it (Fireside's server,
    which hands out events to many environments in one turn of its loop) and runs once that
    one waits. Its CPU share is unchanged."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is not None:
        try:  # noqa: SIM105 (contextlib is one import more on every cold start)
            os.sched_setscheduler(0, policy, os.sched_param(0))
        except OSError:
            pass


def main() -> None:
    _setup_sys_path()
    _setup_logging()
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        _die("AWS_LAMBDA_RUNTIME_API is not set")
    api = _RuntimeApi(address)
    try:
        handler = _load_handler(os.environ.get("_HANDLER", ""))
    except Exception as exc:
        error_type, message, trace = _explain(exc)
        logging.warning(_UNHANDLED_WARNING)
        _log_error(error_type, message, trace)
        headers = f"{_ERROR_TYPE}: {error_type}\r\nContent-Type: application/json\r\n"
        body = _error_json(error_type, message, trace, "")
        _call(api, "POST", f"{_RUNTIME}/init/error", body, headers)
        sys.stdout.flush()
        os._exit(1)
    while True:
        _invoke(api, handler)


def _await_launch(fd: int) -> None:
    """A warm spare: wait for the function's environment (JSON on `fd`), then become its runtime.

    The interpreter started and this module's imports ran before the function was known; only
    variables that a process reads after start-up may differ, which Fireside guarantees.
    """
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    if not data:  # Fireside discarded the spare
        os._exit(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, fd)
    os.close(null)
    os.environ.clear()
    os.environ.update(json.loads(data)["env"])
    os.chdir(os.environ.get("LAMBDA_TASK_ROOT") or "/var/task")


def _snapshot_template(fd: int) -> NoReturn:
    """SnapStart: run Init once, then make environments from this process on request."""
    import socket

    import fireside_snapshot  # type: ignore[import-not-found]  # beside this file at run time

    control = socket.socket(fileno=fd)
    _setup_sys_path()
    _setup_logging()
    try:
        handler = _load_handler(os.environ.get("_HANDLER", ""))
        import snapshot_restore_py  # type: ignore[import-untyped, import-not-found, unused-ignore]

        for hook, args, kwargs in snapshot_restore_py.get_before_snapshot():
            hook(*args, **kwargs)
    except Exception as exc:
        error_type, message, _trace = _explain(exc)
        report = {"init_error": {"errorType": error_type, "errorMessage": message}}
        control.sendall(json.dumps(report).encode() + b"\n")
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    control.sendall(b'{"ready": true}\n')
    #: A copy's Runtime API client, connected while it was parked (`prepare`).
    prepared: list[_RuntimeApi] = []

    def prepare() -> None:
        # The address the template was given: a private network's, which every copy is given
        # too (`become` makes another client if not).
        address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
        if address and not prepared:
            api = _RuntimeApi(address)
            api.connect_ahead()
            prepared.append(api)

    def become(env: dict[str, str]) -> None:
        # Only what differs from the template's (most variables are the same): each change
        # is a putenv, which a start waits for.
        for name in [name for name in os.environ if name not in env]:
            del os.environ[name]
        zone = os.environ.get("TZ")
        for name, value in env.items():
            if os.environ.get(name) != value:
                os.environ[name] = value
        if os.environ.get("TZ") != zone:
            time.tzset()
        import snapshot_restore_py

        for hook, args, kwargs in snapshot_restore_py.get_after_restore():
            hook(*args, **kwargs)
        address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
        api = prepared.pop() if prepared else None
        if api is None or api.address != address:
            if api is not None:
                api._close()
            api = _RuntimeApi(address)
        while True:
            _invoke(api, handler)

    fireside_snapshot.serve_forks(control, become, prepare)
    os._exit(0)


if __name__ == "__main__":
    _batch_scheduling()  # inherited by a snapshot template's copies and a spare's runtime
    if "FIRESIDE_SNAPSHOT_FD" in os.environ:
        _snapshot_template(int(os.environ.pop("FIRESIDE_SNAPSHOT_FD")))
    if os.environ.pop("FIRESIDE_LANDLOCK", "") == "1":
        # Before any function code runs (in a spare: before it waits). The module sits beside
        # this file, first on sys.path until _setup_sys_path().
        import fireside_landlock  # type: ignore[import-not-found]  # beside this file at run time

        fireside_landlock.restrict()
    if "FIRESIDE_WARM_FD" in os.environ:
        _await_launch(int(os.environ["FIRESIDE_WARM_FD"]))
    if os.environ.get("FIRESIDE_EXTENSIONS"):
        import fireside_exec  # type: ignore[import-not-found]  # beside this file at run time

        environ = dict(os.environ)
        fireside_exec.start_extensions(environ)
        os.environ.pop("FIRESIDE_EXTENSIONS")
    main()
