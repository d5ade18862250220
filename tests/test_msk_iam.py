"""MSK clusters with IAM client authentication: SASL on the cluster's listener, checked by
Fireside's own SigV4 verification, and accounts as walls.

Real clients: confluent-kafka (librdkafka) with tokens from `aws-msk-iam-sasl-signer-python`
(OAUTHBEARER), kafka-python 3's own AWS_MSK_IAM payload builder, and Lambda's poller (aiokafka);
raw frames where a test needs the exact error codes and the connection's fate.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import CredentialProvider, Credentials
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from kafka.net.sasl.msk import AwsMskIamClient

from fireside.compute import kafka_iam
from fireside.compute.kafka_iam import MappingTokens
from fireside.compute.kafka_mapping import AUTH_FAILED, KafkaPoller, MappingCredentials
from fireside.compute.mappings import EventSourceMapping
from fireside.kafka.codec import Reader, Writer, decode, encode
from fireside.kafka.errors import Err
from fireside.kafka.sasl import SASL_AUTHENTICATE, SASL_HANDSHAKE
from tests.conftest import ROLE, Server, python_zip, wait_for
from tests.kafka_wire import Conn
from tests.test_msk import BROKER_GROUP, wait_state
from tests.test_sqs_mappings import _drain, _enabled, _queue

A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}
REGION = "us-east-1"
IAM = {"Sasl": {"Iam": {"Enabled": True}}}


@pytest.fixture(scope="module")
def iam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("msk-iam"),
        env={"FIRESIDE_CREDENTIALS": credentials, "FIRESIDE_MSK_ACTIVATION_SECONDS": "0"},
    ).start()
    yield server
    server.stop()


def client(server: Server, service: str, account: str = A) -> Any:
    return server.client(service, aws_access_key_id=account, aws_secret_access_key=SECRETS[account])


class _Fixed(CredentialProvider):  # type: ignore[misc]
    def __init__(self, key: str, secret: str) -> None:
        super().__init__()
        self._credentials = Credentials(key, secret)

    def load(self) -> Credentials:
        return self._credentials


def signer_token(key: str, secret: str, region: str = REGION) -> str:
    """The OAUTHBEARER token AWS's Python signer makes (a presigned kafka-cluster:Connect)."""
    token, _ = MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(
        region, _Fixed(key, secret)
    )
    return str(token)


def presigned(account: str, service: str, params: dict[str, str]) -> str:
    """A token signed like the signer's, for any service and action (to be refused)."""
    request = AWSRequest(method="GET", url=f"https://kafka.{REGION}.amazonaws.com/", params=params)
    SigV4QueryAuth(Credentials(account, SECRETS[account]), service, REGION, 900).add_auth(request)
    return base64.urlsafe_b64encode(request.prepare().url.encode()).decode().rstrip("=")


def iam_config(bootstrap: str, account: str = A, secret: str | None = None) -> dict[str, Any]:
    """librdkafka's settings for SASL/OAUTHBEARER with the signer's tokens."""
    secret = SECRETS[account] if secret is None else secret

    def token(_config: str) -> tuple[str, float]:
        return signer_token(account, secret), time.time() + 900

    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "OAUTHBEARER",
        "oauth_cb": token,
    }


def iam_cluster(server: Server, name: str, **kind: Any) -> tuple[str, str]:
    """A cluster of account A with IAM client authentication: (ARN, SASL/IAM bootstrap)."""
    msk = client(server, "kafka")
    if not kind:
        kind = {
            "Serverless": {"VpcConfigs": [{"SubnetIds": ["subnet-1"]}], "ClientAuthentication": IAM}
        }
    arn: str = msk.create_cluster_v2(ClusterName=name, **kind)["ClusterArn"]
    wait_state(msk, arn, "ACTIVE")
    return arn, msk.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerStringSaslIam"]


# -- raw SASL frames ---------------------------------------------------------------------------


def sasl_call(conn: Conn, api: Any, version: int, body: dict[str, Any]) -> dict[str, Any]:
    flexible = version >= api.flexible
    w = Writer()
    encode(w, api.request, body, version, flexible)
    conn.send_frame(conn.header(api.key, version, flexible) + w.getvalue())
    r = Reader(conn.read_frame())
    assert r.i32() == conn.correlation
    if flexible:
        r.skip_tags()
    return decode(r, api.response, version, flexible)


def authenticate(
    port: int, mechanism: str, message: bytes, version: int = 2
) -> tuple[Conn, dict[str, Any]]:
    conn = Conn(port)
    shake = sasl_call(conn, SASL_HANDSHAKE, 1, {"mechanism": mechanism})
    assert shake == {"error_code": 0, "mechanisms": ["AWS_MSK_IAM", "OAUTHBEARER"]}
    return conn, sasl_call(conn, SASL_AUTHENTICATE, version, {"auth_bytes": message})


def bearer(token: str) -> bytes:
    return f"n,,\x01auth=Bearer {token}\x01\x01".encode()


def port_of(bootstrap: str) -> int:
    return int(bootstrap.rpartition(":")[2])


def assert_closed(conn: Conn) -> None:
    with pytest.raises(ConnectionError):
        conn.read_frame()
    conn.close()


# -- the tests ---------------------------------------------------------------------------------


def test_another_accounts_valid_credentials_are_refused(iam_server: Server) -> None:
    """B's credentials are good (B signs AWS requests with them) but the cluster is A's."""
    _, bootstrap = iam_cluster(iam_server, "walled")
    conn, answer = authenticate(
        port_of(bootstrap), "OAUTHBEARER", bearer(signer_token(B, SECRETS[B]))
    )
    assert answer["error_code"] == Err.SASL_AUTHENTICATION_FAILED
    assert answer["error_message"].endswith("]: Access denied")
    assert_closed(conn)
    # The same through a real client: librdkafka reports an authentication error, no data.
    errors: list[KafkaError] = []
    producer = Producer(
        {**iam_config(bootstrap, B), "error_cb": errors.append, "message.timeout.ms": 3000}
    )
    producer.produce("orders", b"from b")
    producer.flush(10)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    # A's own credentials are admitted on the same listener.
    conn, answer = authenticate(
        port_of(bootstrap), "OAUTHBEARER", bearer(signer_token(A, SECRETS[A]))
    )
    assert (answer["error_code"], answer["auth_bytes"], answer["session_lifetime_ms"]) == (
        0,
        b"",
        0,
    )
    conn.close()


def test_signer_tokens_produce_and_consume(iam_server: Server) -> None:
    _, bootstrap = iam_cluster(iam_server, "orders")
    producer = Producer({**iam_config(bootstrap), "linger.ms": 0})
    producer.produce("orders", key=b"1", value=b"paid")
    assert producer.flush(30) == 0
    consumer = Consumer(
        {**iam_config(bootstrap), "group.id": "billing", "auto.offset.reset": "earliest"}
    )
    try:
        consumer.subscribe(["orders"])
        message = wait_for(lambda: consumer.poll(1), 30, "the record")
        assert (message.error(), message.value()) == (None, b"paid")
    finally:
        consumer.close()


def test_the_java_mechanisms_payload_is_accepted(iam_server: Server) -> None:
    """AWS_MSK_IAM (aws-msk-iam-auth's JSON), as kafka-python 3 builds it; the answer is the
    JSON MSK sends back, and the connection then serves requests."""
    _, bootstrap = iam_cluster(iam_server, "java")
    payload = AwsMskIamClient("127.0.0.1", A, SECRETS[A], REGION).first_message()
    conn, answer = authenticate(port_of(bootstrap), "AWS_MSK_IAM", payload, version=1)
    assert answer["error_code"] == 0, answer
    reply = json.loads(answer["auth_bytes"])
    assert reply["version"] == "2020_10_22" and uuid.UUID(reply["request-id"])
    assert conn.call(3, 9, {"topics": []})["brokers"][0]["port"] == port_of(bootstrap)
    conn.close()
    # B's, or a tampered one, are refused.
    other = AwsMskIamClient("127.0.0.1", B, SECRETS[B], REGION).first_message()
    conn, answer = authenticate(port_of(bootstrap), "AWS_MSK_IAM", other)
    assert answer["error_code"] == Err.SASL_AUTHENTICATION_FAILED
    conn.close()
    tampered = json.loads(payload)
    tampered["x-amz-signature"] = "0" * 64
    conn, answer = authenticate(port_of(bootstrap), "AWS_MSK_IAM", json.dumps(tampered).encode())
    assert answer["error_code"] == Err.SASL_AUTHENTICATION_FAILED
    assert "signature we calculated does not match" in answer["error_message"]
    assert_closed(conn)


def test_bad_and_expired_signatures_are_refused(iam_server: Server) -> None:
    _, bootstrap = iam_cluster(iam_server, "strict")
    port = port_of(bootstrap)
    cases = {
        "wrong secret": signer_token(A, "not-the-secret"),
        "unknown key": signer_token("AKIDUNKNOWN", "whatever"),
        "another region": signer_token(A, SECRETS[A], "eu-west-1"),
    }
    old = (datetime.now(UTC) - timedelta(minutes=20)).replace(tzinfo=None)  # tokens live 15
    with mock.patch("botocore.auth.get_current_datetime", return_value=old):
        cases["expired"] = signer_token(A, SECRETS[A])
    # Correctly signed, but for another action or another service: not a Connect.
    cases["another action"] = presigned(A, "kafka-cluster", {"Action": "kafka-cluster:ReadData"})
    cases["another service"] = presigned(A, "s3", {"Action": "kafka-cluster:Connect"})
    words = {
        "wrong secret": "signature we calculated does not match",
        "unknown key": "security token included in the request is invalid",
        "another region": "region",
        "expired": "Signature expired",
        "another action": "only kafka-cluster:Connect",
        "another service": "Credential should be scoped to 'kafka-cluster'",
    }
    for case, token in cases.items():
        conn, answer = authenticate(port, "OAUTHBEARER", bearer(token))
        assert answer["error_code"] == Err.SASL_AUTHENTICATION_FAILED, case
        assert words[case] in answer["error_message"], (case, answer)
        assert_closed(conn)
    conn, answer = authenticate(port, "OAUTHBEARER", bearer("not-a-token!"))
    assert answer["error_code"] == Err.SASL_AUTHENTICATION_FAILED
    conn.close()


def test_an_unauthenticated_client_gets_nothing(iam_server: Server) -> None:
    _, bootstrap = iam_cluster(iam_server, "closed")
    port = port_of(bootstrap)
    conn = Conn(port)
    versions = conn.call(18, 3, {})
    served = {k["api_key"]: (k["min_version"], k["max_version"]) for k in versions["api_keys"]}
    assert served[17] == (1, 1) and served[36] == (0, 2)
    conn.send_frame(conn.header(3, 9, True) + b"\x00" * 4)  # Metadata before authenticating
    assert_closed(conn)
    conn = Conn(port)  # a 1 MiB frame is not even read before authenticating (512 KiB cap)
    conn.sock.sendall(struct.pack(">i", 1 << 20))
    assert_closed(conn)
    conn = Conn(port)
    answer = sasl_call(conn, SASL_AUTHENTICATE, 2, {"auth_bytes": b"x"})
    assert answer["error_code"] == Err.ILLEGAL_SASL_STATE
    assert_closed(conn)
    conn = Conn(port)
    answer = sasl_call(conn, SASL_HANDSHAKE, 1, {"mechanism": "PLAIN"})
    assert answer == {
        "error_code": Err.UNSUPPORTED_SASL_MECHANISM,
        "mechanisms": ["AWS_MSK_IAM", "OAUTHBEARER"],
    }
    assert_closed(conn)
    # A plaintext client library sees no brokers, no topics.
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "g", "socket.timeout.ms": 2000}
    )
    try:
        with pytest.raises(KafkaException):
            consumer.list_topics(timeout=3)
    finally:
        consumer.close()


def test_bootstrap_brokers_follow_client_authentication(iam_server: Server) -> None:
    msk = client(iam_server, "kafka")
    provisioned = {
        "KafkaVersion": "3.6.0", "NumberOfBrokerNodes": 1, "BrokerNodeGroupInfo": BROKER_GROUP,
    }  # fmt: skip
    _, serverless = iam_cluster(iam_server, "sl")
    keys = {}
    for name, auth in (
        ("iam-only", IAM),
        ("open", None),
        ("both", {**IAM, "Unauthenticated": {"Enabled": True}}),
    ):
        extra = {"ClientAuthentication": auth} if auth else {}
        arn = msk.create_cluster_v2(ClusterName=name, Provisioned={**provisioned, **extra})[
            "ClusterArn"
        ]
        wait_state(msk, arn, "ACTIVE")
        brokers = msk.get_bootstrap_brokers(ClusterArn=arn)
        keys[name] = sorted(k for k in brokers if k.startswith("Bootstrap"))
        if name == "both":  # IAM optional: plaintext clients served, B still refused
            port = port_of(brokers["BootstrapBrokerString"])
            conn = Conn(port)
            assert conn.call(3, 9, {"topics": []})["brokers"]
            conn.close()
            conn, answer = authenticate(port, "OAUTHBEARER", bearer(signer_token(B, SECRETS[B])))
            assert answer["error_code"] == Err.SASL_AUTHENTICATION_FAILED
            conn.close()
    assert keys == {
        "iam-only": ["BootstrapBrokerStringSaslIam"],
        "open": ["BootstrapBrokerString"],
        "both": ["BootstrapBrokerString", "BootstrapBrokerStringSaslIam"],
    }
    assert port_of(serverless) > 0


WORKER = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
"""


def _function(lam: Any, out_url: str) -> str:
    name = f"k-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip(WORKER)}, Environment={"Variables": {"OUT": out_url}},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name


def test_a_mapping_signs_in_as_its_own_account(iam_server: Server) -> None:
    """A's mapping on A's IAM cluster reads it (signed in as A, over SASL); B's mapping
    naming the same brokers (self-managed: no IAM sign-in for B on A's cluster) gets nothing."""
    arn, bootstrap = iam_cluster(iam_server, "feed")
    producer = Producer({**iam_config(bootstrap), "linger.ms": 0})
    producer.produce("clicks", value=b"hello")
    assert producer.flush(30) == 0
    lam, sqs = client(iam_server, "lambda"), client(iam_server, "sqs")
    out_url, _ = _queue(sqs)
    name = _function(lam, out_url)
    created = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, Topics=["clicks"], StartingPosition="TRIM_HORIZON",
        MaximumBatchingWindowInSeconds=0,
    )  # fmt: skip
    (event,) = _drain(sqs, out_url, 1)
    assert (event["eventSource"], event["eventSourceArn"]) == ("aws:kafka", arn)
    assert event["bootstrapServers"] == bootstrap
    (record,) = event["records"]["clicks-0"]
    assert record["value"] == "aGVsbG8="
    consumer = Consumer({**iam_config(bootstrap), "group.id": created["UUID"]})
    try:
        committed = lambda: consumer.committed([TopicPartition("clicks", 0)], 10)[0].offset  # noqa: E731
        wait_for(lambda: committed() == 1, 30, "the mapping's commit")
    finally:
        consumer.close()
    lam.delete_event_source_mapping(UUID=created["UUID"])

    lam_b, sqs_b = client(iam_server, "lambda", B), client(iam_server, "sqs", B)
    out_b, _ = _queue(sqs_b)
    name_b = _function(lam_b, out_b)
    theirs = lam_b.create_event_source_mapping(
        FunctionName=name_b, Topics=["clicks"], StartingPosition="TRIM_HORIZON",
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [bootstrap]}},
        MaximumBatchingWindowInSeconds=0,
    )  # fmt: skip
    wait_for(lambda: _enabled(lam_b, theirs["UUID"]), 30, "B's mapping enabled")
    wait_for(
        lambda: lam_b.get_event_source_mapping(UUID=theirs["UUID"])[
            "LastProcessingResult"
        ].startswith("PROBLEM"),
        60,
        "B's mapping reporting its problem",
    )
    got = sqs_b.receive_message(QueueUrl=out_b, WaitTimeSeconds=1).get("Messages", [])
    assert got == []
    lam_b.delete_event_source_mapping(UUID=theirs["UUID"])


class _TheirCluster:
    """A directory that hands the poller another account's cluster, as a cluster policy
    would on AWS (Fireside has none): the listener is then the only wall left."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap

    def bootstrap(self, account: str, region: str, cluster_arn: str) -> str | None:
        return self._bootstrap

    def uses_iam(self, account: str, region: str, cluster_arn: str) -> bool:
        return True


def test_a_mapping_of_another_account_is_refused_as_lambda_reports_it(iam_server: Server) -> None:
    """The poller of B's mapping, pointed at A's IAM cluster, signs in with B's credentials:
    the listener refuses them, and the mapping says so in Lambda's words."""
    arn, bootstrap = iam_cluster(iam_server, "policyless")
    mapping = EventSourceMapping(
        uuid="u-b", account=B, region=REGION, function="f", qualifier=None, source_arn=arn,
        batch_size=100, window=0, enabled=True, state="Enabled", last_modified=0.0,
        topics=["clicks"], starting_position="TRIM_HORIZON", group_id="u-b",
    )  # fmt: skip
    issued: list[str] = []
    revoked: list[str] = []

    def issue(m: EventSourceMapping) -> tuple[str, str, str]:
        issued.append(m.account)
        return m.account, SECRETS[m.account], ""

    async def invoke(m: EventSourceMapping, payload: bytes) -> tuple[bytes, str | None]:
        raise AssertionError("B's mapping must read nothing")

    async def run() -> None:
        poller = KafkaPoller(
            mapping, _TheirCluster(bootstrap), invoke, lambda m, r: None,
            MappingCredentials(issue, revoked.append),
        )  # fmt: skip
        task = asyncio.create_task(poller.run())
        deadline = time.monotonic() + 30
        while mapping.last_result != AUTH_FAILED and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert (mapping.last_result, mapping.reason) == (
        "PROBLEM: SASL authentication failed.",
        "EVENT_SOURCE_AUTHN_ERROR",
    )
    assert issued == [B] and revoked == [B]  # B's own key, withdrawn when the poller stopped


def test_the_default_broker_can_demand_sign_in(fresh_server: Callable[..., Server]) -> None:
    """`kafka_require_auth`: the default broker (no account's) serves only clients that sign
    in with valid credentials, of any account; without it, SASL is offered, not demanded."""
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = fresh_server(FIRESIDE_CREDENTIALS=credentials, FIRESIDE_KAFKA_REQUIRE_AUTH="1")
    port = server.kafka_port
    conn = Conn(port)
    conn.send_frame(conn.header(3, 9, True) + b"\x00" * 4)
    assert_closed(conn)
    for account in (A, B):
        conn, answer = authenticate(
            port, "OAUTHBEARER", bearer(signer_token(account, SECRETS[account]))
        )
        assert answer["error_code"] == 0, answer
        assert conn.call(3, 9, {"topics": []})["brokers"]
        conn.close()
    conn, answer = authenticate(port, "OAUTHBEARER", bearer(signer_token(A, "wrong")))
    assert answer["error_code"] == Err.SASL_AUTHENTICATION_FAILED
    assert_closed(conn)
    # Re-authentication on a connection (KIP-368): the same principal again, never another.
    conn, answer = authenticate(port, "OAUTHBEARER", bearer(signer_token(A, SECRETS[A])))
    for account, code in ((A, 0), (B, Err.SASL_AUTHENTICATION_FAILED)):
        assert sasl_call(conn, SASL_HANDSHAKE, 1, {"mechanism": "OAUTHBEARER"})["error_code"] == 0
        again = {"auth_bytes": bearer(signer_token(account, SECRETS[account]))}
        assert sasl_call(conn, SASL_AUTHENTICATE, 2, again)["error_code"] == code
    assert_closed(conn)
    producer = Producer({**iam_config(server.kafka_bootstrap, B), "linger.ms": 0})
    producer.produce("anyone-signed-in", b"ok")
    assert producer.flush(30) == 0


def test_the_wall_survives_a_restart(fresh_server: Callable[..., Server], tmp_path: Path) -> None:
    """A cluster's authentication comes from its durable record: after a restart (kill -9),
    its listener still demands sign-in and still refuses another account."""
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    env = {"FIRESIDE_CREDENTIALS": credentials, "FIRESIDE_MSK_ACTIVATION_SECONDS": "0"}
    server = fresh_server(tmp_path / "data", **env)
    arn, _ = iam_cluster(server, "durable")
    server.stop(signal.SIGKILL)
    server = fresh_server(tmp_path / "data", **env)
    brokers = client(server, "kafka").get_bootstrap_brokers(ClusterArn=arn)
    port = port_of(brokers["BootstrapBrokerStringSaslIam"])
    conn = Conn(port)
    conn.send_frame(conn.header(3, 9, True) + b"\x00" * 4)
    assert_closed(conn)
    conn, answer = authenticate(port, "OAUTHBEARER", bearer(signer_token(B, SECRETS[B])))
    assert answer["error_code"] == Err.SASL_AUTHENTICATION_FAILED
    conn.close()
    conn, answer = authenticate(port, "OAUTHBEARER", bearer(signer_token(A, SECRETS[A])))
    assert answer["error_code"] == 0
    conn.close()


def test_a_pollers_key_is_reissued_before_it_expires(
    iam_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poller runs for as long as its mapping, its keys for 12 hours: the token provider
    takes a fresh key every REISSUE_AFTER and revokes the old one; each token it signs is
    admitted by the cluster."""
    _, bootstrap = iam_cluster(iam_server, "longlived")
    keys = iter([(A, SECRETS[A], ""), (A, SECRETS[A], "second")])
    revoked: list[str] = []
    tokens = MappingTokens(lambda: next(keys), revoked.append, REGION)
    clock = [1000.0]
    monkeypatch.setattr(kafka_iam.time, "monotonic", lambda: clock[0])
    first = asyncio.run(tokens.token())
    assert asyncio.run(tokens.token()) == first and revoked == []  # reused meanwhile
    clock[0] += kafka_iam.REISSUE_AFTER + 1
    second = asyncio.run(tokens.token())
    assert second != first and revoked == [A]
    for token in (first, second):
        conn, answer = authenticate(port_of(bootstrap), "OAUTHBEARER", bearer(token))
        assert answer["error_code"] == 0, answer
        conn.close()
    tokens.close()
    assert revoked == [A, A]
