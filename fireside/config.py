"""Settings: command-line flags over `FIRESIDE_*` environment variables over `fireside.toml`.

`fireside.toml` lives in the data directory. Example:

    [server]
    max_environments = 64        # execution environments alive at once, across functions
    idle_timeout = 600           # seconds before an idle environment is stopped

    [http]                       # bounds on HTTP clients (fireside/http/limits.py)
    keepalive_timeout = 60

    [[credentials]]              # when any are set, every request must be signed by one of them
    access_key_id = "AKIDEXAMPLE"
    secret_access_key = "secret"

`FIRESIDE_CREDENTIALS="AKID1:SECRET1,AKID2:SECRET2"` adds credentials from the environment.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fireside.aws.credentials import parse_credentials_env
from fireside.compute.logs import FUNCTION_BYTES, INVOKE_BYTES, MAX_LINE
from fireside.http.limits import HttpLimits

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
DEFAULT_DATA_DIR = Path(".fireside")
CONFIG_FILE = "fireside.toml"


#: WebSocket settings: `[server] websocket_*` in fireside.toml, `FIRESIDE_WEBSOCKET_*`.
_WEBSOCKET = (
    "websocket_idle_timeout",
    "websocket_lifetime",
    "websocket_connect_rate",
    "websocket_max_frame",
    "websocket_max_message",
    "websocket_max_connections",
    "websocket_send_timeout",
)


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


@dataclass(slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = DEFAULT_DATA_DIR
    #: Where HTTP APIs' `file://` JWT issuers may point (None: `<data dir>/jwks`).
    jwks_dir: Path | None = None
    #: "" picks the strongest backend the host supports.
    sandbox: str = ""
    #: Functions may reach networks beyond Fireside (a function tag `fireside:egress=off` opts out).
    egress: bool = True
    #: Egress may reach private, link-local (cloud metadata) and the host's own addresses
    #: (`FIRESIDE_EGRESS_PRIVATE=allow`; per function, the tag `fireside:egress=private`).
    egress_private: bool = False
    region: str = "us-east-1"
    #: SNS checks an https subscriber's certificate against the system's trusted roots, as AWS
    #: does (`FIRESIDE_SNS_HTTPS_VERIFY=off` accepts self-signed endpoints).
    sns_https_verify: bool = True
    #: access key id -> secret access key; empty means "accept any well-formed signature".
    credentials: dict[str, str] = field(default_factory=dict)
    max_environments: int = 64
    idle_timeout: float = 600.0
    #: Pre-started spare sandboxes kept per kind of environment, for fast cold starts (0: none).
    warm_spares: int = 1
    #: Invokes an account may run at once in a region (Lambda's default quota).
    account_concurrency: int = 1000
    #: Seconds before the 1st and 2nd retry of a failed asynchronous invoke (AWS: ~1 and ~2 min).
    async_retry_delays: tuple[float, ...] = (60.0, 120.0)
    #: Seconds an Event invoke may wait for delivery when its function's event invoke
    #: configuration does not set MaximumEventAgeInSeconds (AWS: 6 hours).
    max_event_age: float = 6 * 3600.0
    #: Seconds between DynamoDB TTL sweeps (expired items are deleted within one interval).
    tables_ttl_interval: float = 60.0
    #: Seconds a DynamoDB stream shard stays open before a write rolls it over (DynamoDB: ~4 h).
    tables_shard_lifetime: float = 4 * 3600.0
    #: Seconds before a deleted SQS queue's name may be used again (AWS: 60,
    #: `QueueDeletedRecently`); test harnesses that wipe every queue between tests set 0.
    sqs_name_reuse_wait: float = 60.0
    #: Where tables live: "" (SQLite in the data dir) or a postgresql:// URL.
    tables_backend: str = ""
    #: CloudFormation: a resource type Fireside does not provide becomes a placeholder that
    #: creates nothing, instead of failing the template (`Unrecognized resource types`).
    cfn_unsupported_placeholders: bool = False
    #: Seconds a CloudFormation custom resource may take to answer (AWS: one hour).
    cfn_custom_resource_timeout: float = 3600.0
    #: Seconds in a minute of a stack's TimeoutInMinutes (60; tests shorten it).
    cfn_minute: float = 60.0
    #: Serve `/_fireside/echo`, the HTTP floor `bench/invoke.py` measures (never in production).
    bench_echo: bool = False
    #: Milliseconds the event loop may be held before its stack is logged (0: not watched;
    #: `fireside.loop_watch`, for benchmarks and debugging).
    loop_watch_ms: float = 0.0
    #: Bytes of its own output an invocation (or an Init) may log; the rest is dropped.
    log_invoke_bytes: int = INVOKE_BYTES
    #: Bytes of log records kept on disk per function (the oldest half is dropped past it).
    log_function_bytes: int = FUNCTION_BYTES
    #: WebSocket APIs (API Gateway's quotas): seconds a connection may stay silent, seconds
    #: it may last, new connections a second per account (429 beyond), the largest frame and
    #: message a client may send (close 1009 beyond), and open connections in all.
    websocket_idle_timeout: float = 600.0
    websocket_lifetime: float = 7200.0
    websocket_connect_rate: int = 500
    websocket_max_frame: int = 32 * 1024
    websocket_max_message: int = 128 * 1024
    websocket_max_connections: int = 10_000
    #: Seconds a message to a client that does not read waits for room (then a 429).
    websocket_send_timeout: float = 5.0
    #: The Kafka broker's port (0: any free one; -1: no broker), on the same host as the API.
    kafka_port: int = 9092
    #: The host the broker advertises in Metadata ("": the listening host, 127.0.0.1 for a
    #: wildcard); set it when clients on other machines connect.
    kafka_advertised_host: str = ""
    #: Largest Kafka request frame read whole (Kafka's socket.request.max.bytes).
    kafka_max_request_bytes: int = 100 * 1024 * 1024
    #: Largest record batch a Produce may carry (Kafka's message.max.bytes).
    kafka_max_message_bytes: int = 1_048_588
    #: Metadata requests create the topics they name (Kafka's auto.create.topics.enable).
    kafka_auto_create_topics: bool = True
    #: Partitions of a topic created without a count (Kafka's num.partitions).
    kafka_default_partitions: int = 1
    #: The default broker demands SASL/IAM sign-in (valid credentials of any account); by
    #: default it offers it and serves unauthenticated clients too.
    kafka_require_auth: bool = False
    #: Seconds an MSK cluster stays CREATING before it turns ACTIVE (AWS takes many minutes).
    msk_activation_seconds: float = 1.0
    #: Bounds on what one HTTP client may make the server hold (`[http]`, FIRESIDE_HTTP_*).
    http: HttpLimits = field(default_factory=HttpLimits)

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


def _from_toml(path: Path, settings: Settings) -> None:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    server = data.get("server", {})
    if not isinstance(server, dict):
        raise ConfigError(f"{path}: [server] must be a table")
    for key in (
        "max_environments", "idle_timeout", "region", "max_event_age", "warm_spares",
        "account_concurrency", "log_invoke_bytes", "log_function_bytes",
        "cfn_custom_resource_timeout", "cfn_minute", *_WEBSOCKET,
        "kafka_port", "kafka_max_request_bytes",
        "kafka_max_message_bytes", "kafka_default_partitions", "msk_activation_seconds",
    ):  # fmt: skip
        if key in server:
            current = getattr(settings, key)
            try:
                setattr(settings, key, type(current)(server[key]))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{path}: server.{key}: {exc}") from exc
    if "kafka_advertised_host" in server:
        settings.kafka_advertised_host = str(server["kafka_advertised_host"])
    if "kafka_auto_create_topics" in server:
        settings.kafka_auto_create_topics = bool(server["kafka_auto_create_topics"])
    if "kafka_require_auth" in server:
        settings.kafka_require_auth = bool(server["kafka_require_auth"])
    if "cfn_unsupported_placeholders" in server:
        settings.cfn_unsupported_placeholders = bool(server["cfn_unsupported_placeholders"])
    if "egress_private" in server:
        if server["egress_private"] not in ("allow", "deny"):
            raise ConfigError(f'{path}: server.egress_private: expected "allow" or "deny"')
        settings.egress_private = server["egress_private"] == "allow"
    http = data.get("http", {})
    if not isinstance(http, dict):
        raise ConfigError(f"{path}: [http] must be a table")
    try:
        settings.http = HttpLimits.from_mapping(http)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: [http]: {exc}") from exc
    if "async_retry_delays" in server:
        settings.async_retry_delays = tuple(float(x) for x in server["async_retry_delays"])
    for entry in data.get("credentials", []):
        try:
            settings.credentials[str(entry["access_key_id"])] = str(entry["secret_access_key"])
        except (KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}: each [[credentials]] needs access_key_id and secret_access_key"
            ) from exc


def load_settings(
    *,
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    sandbox: str | None = None,
    environ: dict[str, str] | None = None,
    tables_backend: str | None = None,
) -> Settings:
    env = dict(os.environ if environ is None else environ)
    settings = Settings()
    settings.data_dir = Path(data_dir or env.get("FIRESIDE_DATA_DIR") or DEFAULT_DATA_DIR)
    config_path = settings.data_dir / CONFIG_FILE
    if config_path.exists():
        _from_toml(config_path, settings)
    if "FIRESIDE_CREDENTIALS" in env:
        try:
            settings.credentials.update(parse_credentials_env(env["FIRESIDE_CREDENTIALS"]))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    numeric = {
        "FIRESIDE_MAX_ENVIRONMENTS": "max_environments",
        "FIRESIDE_IDLE_TIMEOUT": "idle_timeout",
        "FIRESIDE_WARM_SPARES": "warm_spares",
        "FIRESIDE_TABLES_TTL_INTERVAL": "tables_ttl_interval",
        "FIRESIDE_TABLES_SHARD_LIFETIME": "tables_shard_lifetime",
        "FIRESIDE_ACCOUNT_CONCURRENCY": "account_concurrency",
        "FIRESIDE_MAX_EVENT_AGE": "max_event_age",
        "FIRESIDE_LOG_INVOKE_BYTES": "log_invoke_bytes",
        "FIRESIDE_LOG_FUNCTION_BYTES": "log_function_bytes",
        "FIRESIDE_SQS_NAME_REUSE_WAIT": "sqs_name_reuse_wait",
        "FIRESIDE_CFN_CUSTOM_RESOURCE_TIMEOUT": "cfn_custom_resource_timeout",
        "FIRESIDE_CFN_MINUTE": "cfn_minute",
        **{f"FIRESIDE_{name.upper()}": name for name in _WEBSOCKET},
        "FIRESIDE_KAFKA_PORT": "kafka_port",
        "FIRESIDE_KAFKA_MAX_REQUEST_BYTES": "kafka_max_request_bytes",
        "FIRESIDE_KAFKA_MAX_MESSAGE_BYTES": "kafka_max_message_bytes",
        "FIRESIDE_KAFKA_DEFAULT_PARTITIONS": "kafka_default_partitions",
        "FIRESIDE_MSK_ACTIVATION_SECONDS": "msk_activation_seconds",
        "FIRESIDE_LOOP_WATCH_MS": "loop_watch_ms",
    }
    for var, attr in numeric.items():
        if var in env:
            try:
                setattr(settings, attr, type(getattr(settings, attr))(env[var]))
            except ValueError as exc:
                raise ConfigError(f"{var}: {exc}") from exc
    try:
        settings.http = HttpLimits.from_env(env, settings.http)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if "FIRESIDE_ASYNC_RETRY_DELAYS" in env:
        raw = env["FIRESIDE_ASYNC_RETRY_DELAYS"]
        try:
            settings.async_retry_delays = tuple(float(x) for x in raw.split(",") if x.strip())
        except ValueError as exc:
            raise ConfigError(f"FIRESIDE_ASYNC_RETRY_DELAYS: {exc}") from exc
    settings.region = env.get("FIRESIDE_REGION", settings.region)
    if env.get("FIRESIDE_JWKS_DIR"):
        settings.jwks_dir = Path(env["FIRESIDE_JWKS_DIR"])
    if "FIRESIDE_EGRESS" in env:
        settings.egress = env["FIRESIDE_EGRESS"].lower() not in ("0", "off", "false", "no")
    settings.bench_echo = env.get("FIRESIDE_BENCH_ECHO", "") == "1"
    settings.kafka_advertised_host = env.get(
        "FIRESIDE_KAFKA_ADVERTISED_HOST", settings.kafka_advertised_host
    )
    if "FIRESIDE_KAFKA_AUTO_CREATE_TOPICS" in env:
        value = env["FIRESIDE_KAFKA_AUTO_CREATE_TOPICS"].lower()
        settings.kafka_auto_create_topics = value not in ("0", "off", "false", "no")
    if "FIRESIDE_KAFKA_REQUIRE_AUTH" in env:
        value = env["FIRESIDE_KAFKA_REQUIRE_AUTH"].lower()
        settings.kafka_require_auth = value in ("1", "on", "true", "yes")
    if "FIRESIDE_CFN_UNSUPPORTED_PLACEHOLDERS" in env:
        value = env["FIRESIDE_CFN_UNSUPPORTED_PLACEHOLDERS"].lower()
        settings.cfn_unsupported_placeholders = value in ("1", "on", "true", "yes")
    if "FIRESIDE_SNS_HTTPS_VERIFY" in env:
        value = env["FIRESIDE_SNS_HTTPS_VERIFY"].lower()
        settings.sns_https_verify = value not in ("0", "off", "false", "no")
    if "FIRESIDE_EGRESS_PRIVATE" in env:
        value = env["FIRESIDE_EGRESS_PRIVATE"].lower()
        if value not in ("allow", "deny"):
            raise ConfigError(f"FIRESIDE_EGRESS_PRIVATE: expected allow or deny, got {value!r}")
        settings.egress_private = value == "allow"
    settings.host = host or env.get("FIRESIDE_HOST") or settings.host
    if port is not None:
        settings.port = port
    elif "FIRESIDE_PORT" in env:
        settings.port = int(env["FIRESIDE_PORT"])
    settings.sandbox = sandbox or env.get("FIRESIDE_SANDBOX") or settings.sandbox
    settings.tables_backend = (
        tables_backend or env.get("FIRESIDE_TABLES_BACKEND") or settings.tables_backend
    )
    if settings.max_environments < 1:
        raise ConfigError("max_environments must be at least 1")
    if settings.account_concurrency < 1:
        raise ConfigError("account_concurrency must be at least 1")
    if settings.log_invoke_bytes < 1:
        raise ConfigError("log_invoke_bytes must be at least 1")
    if settings.log_function_bytes < 4 * MAX_LINE:
        raise ConfigError(f"log_function_bytes must be at least {4 * MAX_LINE} (1 MiB)")
    for name in _WEBSOCKET:
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    if settings.websocket_max_frame > settings.websocket_max_message:
        raise ConfigError("websocket_max_frame must not exceed websocket_max_message")
    if not -1 <= settings.kafka_port <= 65535:
        raise ConfigError("kafka_port must be -1 (no broker), 0 (any free port) or a port")
    if settings.kafka_max_request_bytes < 1024 or settings.kafka_max_message_bytes < 1024:
        raise ConfigError("kafka_max_request_bytes and kafka_max_message_bytes must be >= 1024")
    if not 1 <= settings.kafka_default_partitions <= 1000:
        raise ConfigError("kafka_default_partitions must be between 1 and 1000")
    if not 0 <= settings.msk_activation_seconds <= 3600:
        raise ConfigError("msk_activation_seconds must be between 0 and 3600")
    if not 0 <= settings.warm_spares <= 16:
        raise ConfigError("warm_spares must be between 0 and 16")
    return settings
