"""Amazon MSK's API (service `kafka`) on Fireside: a cluster's lifecycle and states, its own
broker (a real Kafka client produces and consumes on its bootstrap string), its topics through
the API, errors in MSK's codes, accounts as walls, and clusters surviving a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.conftest import Server

A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}
BROKER_GROUP = {"InstanceType": "kafka.m5.large", "ClientSubnets": ["subnet-1", "subnet-2"]}


@pytest.fixture(scope="module")
def msk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("msk"),
        env={"FIRESIDE_CREDENTIALS": credentials, "FIRESIDE_MSK_ACTIVATION_SECONDS": "1"},
    ).start()
    yield server
    server.stop()


def kafka(server: Server, account: str = A) -> Any:
    return server.client("kafka", aws_access_key_id=account, aws_secret_access_key=SECRETS[account])


def wait_state(client: Any, arn: str, state: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        info: dict[str, Any] = client.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
        if info["State"] == state or time.monotonic() > deadline:
            assert info["State"] == state, info
            return info
        time.sleep(0.05)


def wait_gone(client: Any, arn: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.describe_cluster(ClusterArn=arn)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "NotFoundException"
            return
        time.sleep(0.05)
    raise AssertionError(f"{arn} was not deleted")


def error_of(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def create_provisioned(client: Any, name: str) -> str:
    made = client.create_cluster(
        ClusterName=name,
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=2,
        BrokerNodeGroupInfo=BROKER_GROUP,
        Tags={"team": "streams"},
    )
    assert made["State"] == "CREATING" and made["ClusterName"] == name
    arn: str = made["ClusterArn"]
    return arn


def produce_and_consume(bootstrap: str, topic: str, values: list[bytes]) -> list[bytes]:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value in values:
        producer.produce(topic, value=value)
    assert producer.flush(20) == 0
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "g-" + topic, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < len(values) and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            got.append(message.value())
    consumer.commit(asynchronous=False)
    consumer.close()
    return got


def test_a_cluster_goes_creating_to_active_and_is_deleted(msk_server: Server) -> None:
    client = kafka(msk_server)
    arn = create_provisioned(client, "orders")
    assert arn.startswith(f"arn:aws:kafka:us-east-1:{A}:cluster/orders/")
    assert arn.endswith("-25")
    assert client.describe_cluster(ClusterArn=arn)["ClusterInfo"]["State"] == "CREATING"
    info = wait_state(client, arn, "ACTIVE")
    assert info["ClusterType"] == "PROVISIONED"
    assert info["Provisioned"]["NumberOfBrokerNodes"] == 2
    assert info["Provisioned"]["BrokerNodeGroupInfo"]["InstanceType"] == "kafka.m5.large"
    assert info["Tags"] == {"team": "streams"}
    v1 = client.describe_cluster(ClusterArn=arn)["ClusterInfo"]
    assert (
        v1["ClusterName"] == "orders" and v1["CurrentBrokerSoftwareInfo"]["KafkaVersion"] == "3.6.0"
    )
    listed = client.list_clusters(ClusterNameFilter="ord")["ClusterInfoList"]
    assert [c["ClusterArn"] for c in listed] == [arn]
    assert client.list_clusters_v2(ClusterTypeFilter="SERVERLESS")["ClusterInfoList"] == []
    bootstrap = client.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerString"]
    assert bootstrap.startswith("127.0.0.1:")
    assert bootstrap != msk_server.kafka_bootstrap
    nodes = client.list_nodes(ClusterArn=arn)["NodeInfoList"]
    assert (
        nodes[0]["NodeType"] == "BROKER"
        and nodes[0]["BrokerNodeInfo"]["ClientSubnet"] == "subnet-1"
    )

    client.tag_resource(ResourceArn=arn, Tags={"env": "dev"})
    client.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert client.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "dev"}

    deleted = client.delete_cluster(ClusterArn=arn)
    assert deleted == {
        "ClusterArn": arn,
        "State": "DELETING",
        "ResponseMetadata": deleted["ResponseMetadata"],
    }
    wait_gone(client, arn)
    clusters = msk_server.data_dir / "kafka" / "clusters"
    assert not any(clusters.glob(arn.split("/")[-1].removesuffix("-25")))


def test_a_serverless_cluster(msk_server: Server) -> None:
    client = kafka(msk_server)
    made = client.create_cluster_v2(
        ClusterName="events-serverless",
        Serverless={"VpcConfigs": [{"SubnetIds": ["subnet-1"]}]},
    )
    assert made["ClusterType"] == "SERVERLESS" and made["State"] == "CREATING"
    info = wait_state(client, made["ClusterArn"], "ACTIVE")
    assert info["Serverless"]["VpcConfigs"] == [{"SubnetIds": ["subnet-1"]}]
    brokers = client.get_bootstrap_brokers(ClusterArn=made["ClusterArn"])
    # Serverless clusters speak SASL/IAM only (tests/test_msk_iam.py signs in to them).
    assert [k for k in brokers if k.startswith("Bootstrap")] == ["BootstrapBrokerStringSaslIam"]
    code, status, _ = error_of(lambda: client.list_nodes(ClusterArn=made["ClusterArn"]))
    assert (code, status) == ("BadRequestException", 400)
    client.delete_cluster(ClusterArn=made["ClusterArn"])
    wait_gone(client, made["ClusterArn"])


def test_errors_carry_msk_codes(msk_server: Server) -> None:
    client = kafka(msk_server)
    arn = create_provisioned(client, "dup")
    # While CREATING (1 s here): no bootstrap brokers, no topic operations.
    assert error_of(lambda: client.get_bootstrap_brokers(ClusterArn=arn)) == (
        "BadRequestException",
        400,
        "You can't get bootstrap broker nodes for a cluster in CREATING state.",
    )
    code, status, _ = error_of(
        lambda: client.create_topic(
            ClusterArn=arn, TopicName="t", PartitionCount=1, ReplicationFactor=1
        )
    )
    assert status == 409  # still CREATING: no topic operations yet
    code, status, message = error_of(lambda: create_provisioned(client, "dup"))
    assert (code, status, message) == (
        "ConflictException",
        409,
        "A resource with this name already exists.",
    )
    missing = arn.replace("/dup/", "/nope/")
    for call in (
        lambda: client.describe_cluster(ClusterArn=missing),
        lambda: client.describe_cluster_v2(ClusterArn=missing),
        lambda: client.delete_cluster(ClusterArn=missing),
        lambda: client.list_nodes(ClusterArn=missing),
    ):
        assert error_of(call)[:2] == ("NotFoundException", 404)
    code, status, message = error_of(lambda: create_provisioned(client, "bad_name!"))
    assert (code, status, message) == (
        "BadRequestException",
        400,
        "The parameter value contains one or more characters that are not valid.",
    )
    assert error_of(lambda: client.list_tags_for_resource(ResourceArn="arn:aws:sqs:x")) == (
        "BadRequestException",
        400,
        "Invalid input resource arn",
    )
    code, status, _ = error_of(lambda: client.create_cluster_v2(ClusterName="neither"))
    assert (code, status) == ("BadRequestException", 400)
    wait_state(client, arn, "ACTIVE")
    code, status, _ = error_of(lambda: client.delete_cluster(ClusterArn=arn, CurrentVersion="nope"))
    assert (code, status) == ("BadRequestException", 400)
    code, status, _ = error_of(lambda: client.describe_topic(ClusterArn=arn, TopicName="absent"))
    assert (code, status) == ("NotFoundException", 404)
    assert error_of(lambda: client.list_configurations())[:2] == ("NotImplementedException", 501)
    client.delete_cluster(ClusterArn=arn)


def test_another_accounts_cluster_is_not_found(msk_server: Server) -> None:
    mine, theirs = kafka(msk_server, A), kafka(msk_server, B)
    arn = create_provisioned(mine, "private")
    for call in (
        lambda: theirs.describe_cluster(ClusterArn=arn),
        lambda: theirs.describe_cluster_v2(ClusterArn=arn),
        lambda: theirs.get_bootstrap_brokers(ClusterArn=arn),
        lambda: theirs.delete_cluster(ClusterArn=arn),
        lambda: theirs.list_nodes(ClusterArn=arn),
        lambda: theirs.list_topics(ClusterArn=arn),
        lambda: theirs.tag_resource(ResourceArn=arn, Tags={"x": "y"}),
        lambda: theirs.list_tags_for_resource(ResourceArn=arn),
    ):
        assert error_of(call)[:2] == ("NotFoundException", 404)
    assert all(c["ClusterArn"] != arn for c in theirs.list_clusters_v2()["ClusterInfoList"])
    # The same name is free in another account.
    other = create_provisioned(theirs, "private")
    assert other != arn and f":{B}:" in other
    wait_state(mine, arn, "ACTIVE")
    mine.delete_cluster(ClusterArn=arn)
    theirs.delete_cluster(ClusterArn=other)


def test_a_kafka_client_produces_and_consumes_on_the_cluster(msk_server: Server) -> None:
    client = kafka(msk_server)
    arn = create_provisioned(client, "data")
    wait_state(client, arn, "ACTIVE")
    bootstrap = client.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerString"]
    made = client.create_topic(
        ClusterArn=arn, TopicName="payments", PartitionCount=3, ReplicationFactor=2
    )
    assert made["TopicArn"].endswith("/payments") and made["Status"] == "ACTIVE"
    code, status, _ = error_of(
        lambda: client.create_topic(
            ClusterArn=arn, TopicName="payments", PartitionCount=1, ReplicationFactor=1
        )
    )
    assert (code, status) == ("TopicExistsException", 409)
    values = [f"payment-{i}".encode() for i in range(20)]
    assert sorted(produce_and_consume(bootstrap, "payments", values)) == sorted(values)

    described = client.describe_topic(ClusterArn=arn, TopicName="payments")
    assert described["PartitionCount"] == 3
    topics = client.list_topics(ClusterArn=arn)["Topics"]
    assert [t["TopicName"] for t in topics] == ["payments"]
    client.update_topic(ClusterArn=arn, TopicName="payments", PartitionCount=5)
    partitions = client.describe_topic_partitions(ClusterArn=arn, TopicName="payments")
    assert [p["Partition"] for p in partitions["Partitions"]] == [0, 1, 2, 3, 4]
    # The cluster's topics are its own: the default broker never saw this one.
    default = Consumer({"bootstrap.servers": msk_server.kafka_bootstrap, "group.id": "x"})
    assert "payments" not in default.list_topics(timeout=10).topics
    default.close()
    client.delete_topic(ClusterArn=arn, TopicName="payments")
    assert error_of(lambda: client.describe_topic(ClusterArn=arn, TopicName="payments"))[1] == 404
    client.delete_cluster(ClusterArn=arn)


def test_clusters_survive_kill_9(fresh_server: Callable[..., Server], tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = fresh_server(data, FIRESIDE_MSK_ACTIVATION_SECONDS="0.2")
    client = srv.client("kafka")
    arn = create_provisioned(client, "durable")
    wait_state(client, arn, "ACTIVE")
    bootstrap = client.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerString"]
    values = [b"one", b"two", b"three"]
    assert produce_and_consume(bootstrap, "kept", values) == values
    srv.stop(signal.SIGKILL)  # nothing acknowledged may depend on an orderly shutdown

    again = fresh_server(data, FIRESIDE_MSK_ACTIVATION_SECONDS="0.2")
    client = again.client("kafka")
    assert client.describe_cluster(ClusterArn=arn)["ClusterInfo"]["State"] == "ACTIVE"
    assert client.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerString"] == bootstrap
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "fresh", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe(["kept"])
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < 3 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            got.append(message.value())
    consumer.close()
    assert got == values


def test_fireside_topics_lists_each_brokers_topics_offsets_and_lag(msk_server: Server) -> None:
    client = kafka(msk_server)
    arn = create_provisioned(client, "listed")
    wait_state(client, arn, "ACTIVE")
    bootstrap = client.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerString"]
    client.create_topic(ClusterArn=arn, TopicName="clicks", PartitionCount=2, ReplicationFactor=1)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(5):
        producer.produce("clicks", value=b"c%d" % i, partition=0)
    assert producer.flush(20) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "analytics"})
    consumer.commit(offsets=[TopicPartition("clicks", 0, 3)], asynchronous=False)
    consumer.close()

    env = {**os.environ, "AWS_ACCESS_KEY_ID": A, "AWS_SECRET_ACCESS_KEY": SECRETS[A]}
    done = subprocess.run(
        [sys.executable, "-m", "fireside", "topics", "--endpoint-url", msk_server.endpoint],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"default broker ({msk_server.kafka_bootstrap})" in out
    assert f"MSK cluster {arn} ({bootstrap})" in out
    section = out.split(f"MSK cluster {arn}")[1].split("\n\n")[0]
    rows = [line.split() for line in section.splitlines()[1:]]
    assert ["clicks", "0", "0", "5"] in rows and ["clicks", "1", "0", "0"] in rows
    assert ["analytics", "clicks", "0", "3", "5", "2"] in rows  # lag = 5 - 3

    unsigned = subprocess.run(
        [sys.executable, "-m", "fireside", "topics", "--endpoint-url", msk_server.endpoint],
        capture_output=True, text=True, timeout=60, check=False,
        env={k: v for k, v in env.items() if not k.startswith("AWS_")} | {
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"},
    )  # fmt: skip
    assert unsigned.returncode == 1 and "403" in unsigned.stderr
    client.delete_cluster(ClusterArn=arn)


TEMPLATE = """
Resources:
  Provisioned:
    Type: AWS::MSK::Cluster
    Properties:
      ClusterName: cfn-provisioned
      KafkaVersion: "3.6.0"
      NumberOfBrokerNodes: "2"
      BrokerNodeGroupInfo:
        InstanceType: kafka.t3.small
        ClientSubnets: [subnet-a, subnet-b]
      Tags:
        team: !Ref Team
  Serverless:
    Type: AWS::MSK::ServerlessCluster
    Properties:
      ClientAuthentication:
        Sasl:
          Iam:
            Enabled: true
      VpcConfigs:
        - SubnetIds: [subnet-a]
Parameters:
  Team:
    Type: String
Outputs:
  ProvisionedArn:
    Value: !GetAtt Provisioned.Arn
  ServerlessArn:
    Value: !Ref Serverless
"""


def stack_status(cfn: Any, name: str, want: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if stack["StackStatus"] == want or time.monotonic() > deadline:
            events = cfn.describe_stack_events(StackName=name)["StackEvents"]
            reasons = [e.get("ResourceStatusReason") for e in events]
            assert stack["StackStatus"] == want, reasons
            return stack
        time.sleep(0.1)


def test_a_cloudformation_stack_makes_updates_and_deletes_clusters(msk_server: Server) -> None:
    cfn = msk_server.client("cloudformation", aws_access_key_id=A, aws_secret_access_key=SECRETS[A])
    client = kafka(msk_server)
    cfn.create_stack(
        StackName="streams",
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Team", "ParameterValue": "a"}],
    )
    stack = stack_status(cfn, "streams", "CREATE_COMPLETE")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    provisioned, serverless = outputs["ProvisionedArn"], outputs["ServerlessArn"]
    info = client.describe_cluster_v2(ClusterArn=provisioned)["ClusterInfo"]
    assert info["State"] == "ACTIVE" and info["ClusterName"] == "cfn-provisioned"
    assert info["Provisioned"]["NumberOfBrokerNodes"] == 2
    assert info["Tags"]["team"] == "a"
    assert info["Tags"]["aws:cloudformation:stack-name"] == "streams"
    other = client.describe_cluster_v2(ClusterArn=serverless)["ClusterInfo"]
    assert other["ClusterType"] == "SERVERLESS" and other["ClusterName"].startswith("streams-")

    cfn.update_stack(
        StackName="streams",
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Team", "ParameterValue": "b"}],
    )
    stack_status(cfn, "streams", "UPDATE_COMPLETE")
    assert client.list_tags_for_resource(ResourceArn=provisioned)["Tags"]["team"] == "b"

    cfn.delete_stack(StackName="streams")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stacks = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
        if any(s["StackName"] == "streams" for s in stacks):
            break
        time.sleep(0.1)
    for arn in (provisioned, serverless):
        assert error_of(lambda arn=arn: client.describe_cluster(ClusterArn=arn))[1] == 404
