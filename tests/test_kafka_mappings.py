"""Kafka event-source mappings with boto3 against a live server, a real broker and real
functions: Lambda's checks, the exact `SelfManagedKafka` event, offsets committed only after
success, retries and the on-failure destination, FilterCriteria, Disabled/Enabled, a `kill -9`
in the middle of a batch, Tansu as an external cluster, and MSK ARNs of other accounts."""

from __future__ import annotations

import base64
import json
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from fireside.compute.kafka_sources import NoClusters, kafka_payload, kafka_record
from fireside.compute.mappings import EventSourceMapping
from tests.conftest import ROLE, Server, python_zip, wait_for
from tests.test_kafka_tansu import tansu  # noqa: F401  (the Tansu broker fixture)
from tests.test_msk import wait_state
from tests.test_sqs_mappings import _drain, _enabled, _queue

WORKER = """
import json, os, time, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
    if os.environ.get("SLOW") == "1":
        time.sleep(60)
    if os.environ.get("FAIL") == "1":
        raise ValueError("told to fail")
    values = [r.get("value") for rs in event["records"].values() for r in rs]
    if os.environ.get("FAIL") == "bad" and "YmFk" in values:  # base64 of b"bad"
        raise ValueError("a bad record")
"""


def _worker(lam: Any, out_url: str, **env: str) -> str:
    name = f"k-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Timeout=int(env.pop("TIMEOUT", "10")),
        Code={"ZipFile": python_zip(WORKER)},
        Environment={"Variables": {"OUT": out_url, **env}},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name


def _topic(bootstrap: str, partitions: int = 1) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the answer
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
    return name


def _produce(bootstrap: str, topic: str, *records: tuple[int, bytes | None, bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for partition, key, value in records:
        producer.produce(topic, value=value, key=key, partition=partition, headers=[("h", b"hi")])
    assert producer.flush(30) == 0


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 30)
        return [tp.offset for tp in found]
    finally:
        consumer.close()


def _mapping(lam: Any, bootstrap: str, topic: str, name: str, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": name,
        "Topics": [topic],
        "StartingPosition": "TRIM_HORIZON",
        "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [bootstrap]}},
        **extra,
    }
    created: dict[str, Any] = lam.create_event_source_mapping(**params)
    wait_for(lambda: _enabled(lam, created["UUID"]))
    return created


def _values(events: list[dict[str, Any]]) -> list[str]:
    return [
        base64.b64decode(r["value"]).decode()
        for e in events
        for rs in e["records"].values()
        for r in rs
    ]


def test_records_reach_the_function_as_lambda_sends_them(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    bootstrap = server.kafka_bootstrap
    topic = _topic(bootstrap, 2)
    out_url, _ = _queue(sqs)
    name = _worker(lam, out_url)
    _produce(bootstrap, topic, (0, b"k0", b'{"n": 0}'), (1, None, b"plain"), (0, b"k2", b"two"))
    created = lam.create_event_source_mapping(
        FunctionName=name,
        Topics=[topic],
        StartingPosition="TRIM_HORIZON",
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [bootstrap]}},
        MaximumBatchingWindowInSeconds=1,
    )
    assert created["State"] == "Creating" and "EventSourceArn" not in created
    assert created["Topics"] == [topic] and created["BatchSize"] == 100
    assert created["StartingPosition"] == "TRIM_HORIZON"
    assert created["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": created["UUID"]}
    assert created["SelfManagedEventSource"] == {
        "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [bootstrap]}
    }
    events = _drain(sqs, out_url, 1)
    while sum(len(rs) for e in events for rs in e["records"].values()) < 3:
        events += _drain(sqs, out_url, 1)
    event = events[0]
    assert event["eventSource"] == "SelfManagedKafka" and "eventSourceArn" not in event
    assert event["bootstrapServers"] == bootstrap
    records = {k: r for e in events for k, r in e["records"].items()}
    assert sorted(records) == [f"{topic}-0", f"{topic}-1"]
    first, second = records[f"{topic}-0"]
    assert (first["topic"], first["partition"], first["offset"]) == (topic, 0, 0)
    assert second["offset"] == 1 and first["timestampType"] == "CREATE_TIME"
    assert isinstance(first["timestamp"], int) and first["timestamp"] > 1_700_000_000_000
    assert base64.b64decode(first["key"]) == b"k0"
    assert base64.b64decode(first["value"]) == b'{"n": 0}'
    assert first["headers"] == [{"h": [104, 105]}]
    (plain,) = records[f"{topic}-1"]
    assert "key" not in plain and base64.b64decode(plain["value"]) == b"plain"
    # Committed after the invoke: the group (the mapping's UUID) is at the end of each partition.
    wait_for(lambda: _committed(bootstrap, created["UUID"], topic, 2) == [2, 1])
    got = lam.get_event_source_mapping(UUID=created["UUID"])
    assert got["State"] == "Enabled" and got["LastProcessingResult"] == "OK"
    lam.delete_event_source_mapping(UUID=created["UUID"])


def test_latest_and_at_timestamp_start_where_they_say(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    bootstrap = server.kafka_bootstrap
    topic = _topic(bootstrap)
    now = int(time.time() * 1000)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    producer.produce(topic, value=b"an hour ago", timestamp=now - 3_600_000)
    producer.produce(topic, value=b"a minute ago", timestamp=now - 60_000)
    assert producer.flush(30) == 0
    latest_url, _ = _queue(sqs)
    latest = _mapping(lam, bootstrap, topic, _worker(lam, latest_url), StartingPosition="LATEST")
    # LATEST is resolved (and committed for the group) when the poller starts.
    wait_for(lambda: _committed(bootstrap, latest["UUID"], topic, 1) == [2])
    stamped_url, _ = _queue(sqs)
    stamped = _mapping(
        lam,
        bootstrap,
        topic,
        _worker(lam, stamped_url),
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=datetime.fromtimestamp((now - 120_000) / 1000, UTC),
    )
    assert stamped["StartingPosition"] == "AT_TIMESTAMP"
    _produce(bootstrap, topic, (0, None, b"now"))
    assert _values(_drain(sqs, latest_url, 1)) == ["now"]
    seen = _values(_drain(sqs, stamped_url, 1))
    while "now" not in seen:
        seen += _values(_drain(sqs, stamped_url, 1))
    assert seen == ["a minute ago", "now"]
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(
            FunctionName=_worker(lam, stamped_url),
            Topics=[topic],
            StartingPosition="AT_TIMESTAMP",
            StartingPositionTimestamp=datetime.fromtimestamp(time.time() + 3600, UTC),
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [bootstrap]}},
        )
    assert "future" in caught.value.response["Error"]["Message"]
    for mapping in (latest, stamped):
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_an_msk_event_names_its_cluster() -> None:
    """The `aws:kafka` event of a mapping of an MSK cluster (the self-managed one is tested
    end to end above; MSK clusters come with the MSK control plane)."""
    arn = (
        "arn:aws:kafka:us-east-1:000000000000:cluster/sales/0b1d2c3e-aaaa-bbbb-cccc-000000000000-1"
    )
    mapping = EventSourceMapping(
        uuid="u", account="000000000000", region="us-east-1", function="f", qualifier=None,
        source_arn=arn, batch_size=100, window=0, enabled=True, state="Enabled",
        last_modified=0.0, topics=["orders"], starting_position="LATEST", group_id="u",
    )  # fmt: skip
    record = kafka_record("orders", 3, 15, 1545084650987, 0, b"k", b"{}", [("a", b"\x00\xff")])
    event = json.loads(kafka_payload(mapping, "b-1:9092,b-2:9092", [record]))
    assert list(event) == ["eventSource", "eventSourceArn", "bootstrapServers", "records"]
    assert event["eventSource"] == "aws:kafka" and event["eventSourceArn"] == arn
    assert event["records"]["orders-3"][0]["headers"] == [{"a": [0, 255]}]
    wire = mapping.to_wire()
    assert wire["EventSourceArn"] == arn and "SelfManagedEventSource" not in wire
    assert wire["AmazonManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "u"}
    assert NoClusters().bootstrap("000000000000", "us-east-1", arn) is None


def _refused(lam: Any, code: str = "InvalidParameterValueException", **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(**params)
    error = caught.value.response["Error"]
    assert error["Code"] == code, error
    return str(error["Message"])


def test_lambdas_checks(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    out_url, _ = _queue(sqs)
    name = _worker(lam, out_url)
    source = {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [server.kafka_bootstrap]}}
    base = {"FunctionName": name, "SelfManagedEventSource": source}
    assert "exactly one topic" in _refused(lam, **base, StartingPosition="LATEST")
    assert "at 'topics' failed to satisfy constraint" in _refused(  # the model's own check
        lam, "ValidationException", **base, Topics=["a", "b"], StartingPosition="LATEST"
    )
    assert "StartingPosition parameter is required" in _refused(lam, **base, Topics=["aa"])
    assert "enum value set" in _refused(
        lam, "ValidationException", **base, Topics=["aa"], StartingPosition="NOW"
    )
    assert "StartingPositionTimestamp is required" in _refused(
        lam, **base, Topics=["aa"], StartingPosition="AT_TIMESTAMP"
    )
    assert "at 'batchSize' failed to satisfy constraint" in _refused(
        lam,
        "ValidationException",
        **base,
        Topics=["aa"],
        StartingPosition="LATEST",
        BatchSize=10001,
    )
    assert "ParallelizationFactor" in _refused(
        lam, **base, Topics=["aa"], StartingPosition="LATEST", ParallelizationFactor=2
    )
    assert "KAFKA_BOOTSTRAP_SERVERS" in _refused(
        lam,
        "ValidationException",
        FunctionName=name,
        Topics=["aa"],
        StartingPosition="LATEST",
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["no-port"]}},
    )
    msk = "arn:aws:kafka:us-east-1:000000000000:cluster/c/0b1d2c3e-aaaa-bbbb-cccc-000000000000-1"
    assert "does not exist" in _refused(
        lam, FunctionName=name, EventSourceArn=msk, Topics=["aa"], StartingPosition="LATEST"
    )
    assert "cannot both" in _refused(
        lam, **base, EventSourceArn=msk, Topics=["aa"], StartingPosition="LATEST"
    )
    first = lam.create_event_source_mapping(
        **base,
        Topics=["aa"],
        StartingPosition="LATEST",
        SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "billing"},
        Enabled=False,
    )
    assert first["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "billing"}
    updated = lam.update_event_source_mapping(
        UUID=first["UUID"], BatchSize=500, MaximumBatchingWindowInSeconds=2
    )
    assert (updated["BatchSize"], updated["MaximumBatchingWindowInSeconds"]) == (500, 2)
    assert updated["Topics"] == ["aa"] and updated["StartingPosition"] == "LATEST"
    with pytest.raises(ClientError) as caught:  # the same group on the same cluster
        lam.create_event_source_mapping(
            **base,
            Topics=["bb"],
            StartingPosition="LATEST",
            SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "billing"},
        )
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"
    with pytest.raises(ClientError) as caught:  # immutable
        lam.update_event_source_mapping(
            UUID=first["UUID"], SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "other"}
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.delete_event_source_mapping(UUID=first["UUID"])


def test_a_failed_batch_is_retried_then_sent_to_its_destination(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    bootstrap = server.kafka_bootstrap
    topic = _topic(bootstrap)
    out_url, _ = _queue(sqs)
    dead_url, dead_arn = _queue(sqs)
    name = _worker(lam, out_url, FAIL="1")
    _produce(bootstrap, topic, (0, None, b"bad"))
    created = _mapping(
        lam,
        bootstrap,
        topic,
        name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dead_arn}},
    )
    attempts = _drain(sqs, out_url, 2)  # the first try and one retry, the same batch
    assert _values(attempts) == ["bad", "bad"]
    (record,) = _drain(sqs, dead_url, 1)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    info = record["KafkaBatchInfo"]
    assert info["batchSize"] == 1 and info["bootstrapServers"] == bootstrap
    assert info["recordsInfo"][f"{topic}-0"]["firstRecordOffset"] == "0"
    assert record["responseContext"]["functionError"] == "Unhandled"
    wait_for(lambda: _committed(bootstrap, created["UUID"], topic, 1) == [1])  # moved past
    lam.delete_event_source_mapping(UUID=created["UUID"])


def test_bisection_isolates_the_bad_record(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    bootstrap = server.kafka_bootstrap
    topic = _topic(bootstrap)
    out_url, _ = _queue(sqs)
    dead_url, dead_arn = _queue(sqs)
    name = _worker(lam, out_url, FAIL="bad")
    _produce(bootstrap, topic, *((0, None, v) for v in (b"a", b"bad", b"c", b"d")))
    created = _mapping(
        lam,
        bootstrap,
        topic,
        name,
        BatchSize=4,
        MaximumBatchingWindowInSeconds=1,
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": dead_arn}},
    )
    assert created["BisectBatchOnFunctionError"] is True
    (record,) = _drain(sqs, dead_url, 1)
    info = record["KafkaBatchInfo"]
    assert info["batchSize"] == 1 and info["recordsInfo"][f"{topic}-0"]["lastRecordOffset"] == "1"
    wait_for(lambda: _committed(bootstrap, created["UUID"], topic, 1) == [4])
    batches = [sorted(_values([e])) for e in _drain(sqs, out_url, 6)]
    assert sorted(batches) == sorted(
        [["a", "bad", "c", "d"], ["a", "bad"], ["a"], ["bad"], ["bad"], ["c", "d"]]
    )
    lam.delete_event_source_mapping(UUID=created["UUID"])


def test_filters_disable_and_enable(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    bootstrap = server.kafka_bootstrap
    topic = _topic(bootstrap)
    out_url, _ = _queue(sqs)
    name = _worker(lam, out_url)
    created = _mapping(
        lam,
        bootstrap,
        topic,
        name,
        MaximumBatchingWindowInSeconds=0,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"value": {"kind": ["order"]}})}]},
    )
    _produce(
        bootstrap,
        topic,
        (0, None, b'{"kind": "noise"}'),
        (0, None, b"not json"),
        (0, None, b'{"kind": "order", "id": 1}'),
    )
    got = _drain(sqs, out_url, 1)
    assert _values(got) == ['{"kind": "order", "id": 1}']
    wait_for(lambda: _committed(bootstrap, created["UUID"], topic, 1) == [3])
    lam.update_event_source_mapping(UUID=created["UUID"], Enabled=False)
    wait_for(lambda: lam.get_event_source_mapping(UUID=created["UUID"])["State"] == "Disabled")
    _produce(bootstrap, topic, (0, None, b'{"kind": "order", "id": 2}'))
    assert "Messages" not in sqs.receive_message(QueueUrl=out_url, WaitTimeSeconds=1)
    assert _committed(bootstrap, created["UUID"], topic, 1) == [3]
    lam.update_event_source_mapping(UUID=created["UUID"], Enabled=True)
    assert _values(_drain(sqs, out_url, 1)) == ['{"kind": "order", "id": 2}']
    lam.delete_event_source_mapping(UUID=created["UUID"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_batch_in_flight_at_kill_9_is_delivered_again(
    fresh_server: Callable[..., Server],
) -> None:
    server = fresh_server(FIRESIDE_KAFKA_PORT=str(_free_port()))
    lam, sqs = server.client(), server.client("sqs")
    bootstrap = server.kafka_bootstrap
    topic = _topic(bootstrap)
    out_url, _ = _queue(sqs)
    name = _worker(lam, out_url, SLOW="1", TIMEOUT="90")
    created = _mapping(lam, bootstrap, topic, name, BatchSize=2)
    _produce(bootstrap, topic, (0, None, b"r0"), (0, None, b"r1"))
    assert _values(_drain(sqs, out_url, 1)) == ["r0", "r1"]  # started, and sleeping
    assert _committed(bootstrap, created["UUID"], topic, 1) == [0]
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.start()
    lam, sqs = server.client(), server.client("sqs")
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"OUT": out_url}}
    )
    _produce(bootstrap, topic, (0, None, b"r2"))
    seen: list[str] = []
    while "r2" not in seen:
        seen += _values(_drain(sqs, out_url, 1))
    assert seen[:2] == ["r0", "r1"], seen  # the batch of the kill, again; nothing skipped
    wait_for(lambda: _committed(bootstrap, created["UUID"], topic, 1) == [3])


@pytest.fixture()
def tansu_bootstrap(tansu: str) -> Iterator[str]:  # noqa: F811
    yield tansu


def test_tansu_as_an_external_cluster(server: Server, tansu_bootstrap: str) -> None:
    lam, sqs = server.client(), server.client("sqs")
    topic = _topic(tansu_bootstrap)
    out_url, _ = _queue(sqs)
    name = _worker(lam, out_url)
    _produce(tansu_bootstrap, topic, (0, b"k", b"from-tansu"))
    created = _mapping(lam, tansu_bootstrap, topic, name)
    (event,) = _drain(sqs, out_url, 1, 90)
    assert event["bootstrapServers"] == tansu_bootstrap
    assert _values([event]) == ["from-tansu"]
    wait_for(lambda: _committed(tansu_bootstrap, created["UUID"], topic, 1) == [1], 90)
    lam.delete_event_source_mapping(UUID=created["UUID"])


def _open_cluster(kafka: Any, name: str) -> tuple[str, str]:
    """A provisioned MSK cluster of the client's account with unauthenticated access (no
    ClientAuthentication), once ACTIVE: (ARN, bootstrap). IAM clusters: test_msk_iam.py."""
    arn: str = kafka.create_cluster_v2(
        ClusterName=name,
        Provisioned={
            "KafkaVersion": "3.6.0",
            "NumberOfBrokerNodes": 1,
            "BrokerNodeGroupInfo": {"InstanceType": "kafka.m5.large", "ClientSubnets": ["s-1"]},
        },
    )["ClusterArn"]
    wait_state(kafka, arn, "ACTIVE")
    bootstrap: str = kafka.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerString"]
    return arn, bootstrap


def test_an_msk_cluster_feeds_a_function(server: Server) -> None:
    """A mapping from a real MSK cluster's ARN: Lambda finds its brokers through the MSK API
    and the function gets the `aws:kafka` event naming the cluster."""
    lam, sqs, kafka = server.client(), server.client("sqs"), server.client("kafka")
    arn, bootstrap = _open_cluster(kafka, f"feed-{uuid.uuid4().hex[:6]}")
    topic = _topic(bootstrap)
    _produce(bootstrap, topic, (0, b"k", b"from msk"))
    out_url, _ = _queue(sqs)
    name = _worker(lam, out_url)
    created = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, Topics=[topic], StartingPosition="TRIM_HORIZON",
        MaximumBatchingWindowInSeconds=0,
    )  # fmt: skip
    assert created["EventSourceArn"] == arn
    assert created["AmazonManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": created["UUID"]}
    (event,) = _drain(sqs, out_url, 1)
    assert (event["eventSource"], event["eventSourceArn"]) == ("aws:kafka", arn)
    assert event["bootstrapServers"] == bootstrap
    assert _values([event]) == ["from msk"]
    wait_for(lambda: _committed(bootstrap, created["UUID"], topic, 1) == [1])
    lam.delete_event_source_mapping(UUID=created["UUID"])
    kafka.delete_cluster(ClusterArn=arn)


def test_another_accounts_msk_cluster_is_not_found(fresh_server: Callable[..., Server]) -> None:
    """Account A's ACTIVE cluster, named by account B's mapping: not found, as on AWS."""
    a, b = "111111111111", "222222222222"
    server = fresh_server(FIRESIDE_CREDENTIALS=f"{a}:secret-a,{b}:secret-b")
    kafka_a = server.client("kafka", aws_access_key_id=a, aws_secret_access_key="secret-a")
    arn, _ = _open_cluster(kafka_a, "theirs")
    lam_b = server.client("lambda", aws_access_key_id=b, aws_secret_access_key="secret-b")
    sqs_b = server.client("sqs", aws_access_key_id=b, aws_secret_access_key="secret-b")
    out_url, _ = _queue(sqs_b)
    name = _worker(lam_b, out_url)
    message = _refused(
        lam_b, FunctionName=name, EventSourceArn=arn, Topics=["tt"], StartingPosition="LATEST"
    )
    assert arn in message and "does not exist" in message
    # The same ARN with B's own account number names no cluster of B's either.
    own = arn.replace(f":{a}:", f":{b}:")
    assert "does not exist" in _refused(
        lam_b, FunctionName=name, EventSourceArn=own, Topics=["tt"], StartingPosition="LATEST"
    )


def test_the_on_failure_record_goes_as_the_mappings_account(
    fresh_server: Callable[..., Server],
) -> None:
    """Account B's mapping sends its given-up batch to account A's queue only once A's queue
    policy lets B send (the destination path checks the owner, as for stream mappings)."""
    a, b = "111111111111", "222222222222"
    server = fresh_server(FIRESIDE_CREDENTIALS=f"{a}:secret-a,{b}:secret-b")
    sqs_a = server.client("sqs", aws_access_key_id=a, aws_secret_access_key="secret-a")
    lam_b = server.client("lambda", aws_access_key_id=b, aws_secret_access_key="secret-b")
    sqs_b = server.client("sqs", aws_access_key_id=b, aws_secret_access_key="secret-b")
    bootstrap = server.kafka_bootstrap
    topic = _topic(bootstrap)
    out_url, _ = _queue(sqs_b)
    dead_url, dead_arn = _queue(sqs_a)
    name = _worker(lam_b, out_url, FAIL="1")
    created = _mapping(
        lam_b,
        bootstrap,
        topic,
        name,
        MaximumRetryAttempts=0,
        MaximumBatchingWindowInSeconds=0,
        DestinationConfig={"OnFailure": {"Destination": dead_arn}},
    )
    _produce(bootstrap, topic, (0, None, b"first"))
    wait_for(lambda: _committed(bootstrap, created["UUID"], topic, 1) == [1])  # given up
    attributes = sqs_a.get_queue_attributes(
        QueueUrl=dead_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"  # refused: A's queue, no grant
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{b}:root"},
                "Action": "sqs:SendMessage",
                "Resource": dead_arn,
            }
        ],
    }
    sqs_a.set_queue_attributes(QueueUrl=dead_url, Attributes={"Policy": json.dumps(policy)})
    _produce(bootstrap, topic, (0, None, b"second"))
    (record,) = _drain(sqs_a, dead_url, 1)
    assert record["KafkaBatchInfo"]["recordsInfo"][f"{topic}-0"]["firstRecordOffset"] == "1"
    assert record["requestContext"]["functionArn"].startswith(f"arn:aws:lambda:us-east-1:{b}:")
