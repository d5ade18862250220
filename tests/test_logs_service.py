"""CloudWatch Logs against a live server: function logs read through GetLogEvents and
FilterLogEvents, groups and streams of one's own, AWS's errors, accounts kept apart, Live
Tail, and the AWS CLI's `logs` commands."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROOT, FunctionFactory, Server, wait_for

A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}

PRINTER = """
import json
def handler(event, context):
    word = event.get("word", "from an API")
    print("hello " + word)
    print(json.dumps({"level": event.get("level", "INFO"), "word": word}))
    return "ok"
"""


def code_of(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


@pytest.fixture()
def logs(server: Server) -> Any:
    return server.client("logs")


def new_group(logs: Any, **kwargs: Any) -> str:
    name = f"/fireside/test/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=name, **kwargs)
    return name


def test_a_functions_logs_are_its_group(
    server: Server, logs: Any, make_function: FunctionFactory
) -> None:
    name = make_function(PRINTER)
    lam = server.client()
    word = uuid.uuid4().hex
    lam.invoke(FunctionName=name, Payload=json.dumps({"word": word, "level": "ERROR"}))
    lam.invoke(FunctionName=name, Payload=json.dumps({"word": "second"}))
    group = f"/aws/lambda/{name}"

    found = wait_for(lambda: logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"])
    assert found[0]["logGroupName"] == group
    assert found[0]["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
    assert found[0]["storedBytes"] > 0

    def streams() -> list[dict[str, Any]]:
        listed = logs.describe_log_streams(logGroupName=group)["logStreams"]
        return listed if listed and "lastEventTimestamp" in listed[0] else []

    (stream,) = wait_for(streams)
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", stream["logStreamName"])

    def messages() -> list[str]:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        return [e["message"] for e in events]

    lines = wait_for(lambda: (m := messages()) and any("REPORT" in x for x in m[4:]) and m)
    assert f"hello {word}" in lines
    assert lines[0].startswith("INIT_START ") and lines[1].startswith("START RequestId:")
    assert any(line.startswith("REPORT RequestId:") for line in lines)

    filtered = logs.filter_log_events(logGroupName=group, filterPattern=word)
    assert [e["message"] for e in filtered["events"]] == [
        f"hello {word}",
        json.dumps({"level": "ERROR", "word": word}),
    ]
    assert filtered["events"][0]["logStreamName"] == stream["logStreamName"]
    assert filtered["searchedLogStreams"] == [
        {"logStreamName": stream["logStreamName"], "searchedCompletely": True}
    ]
    errors = logs.filter_log_events(logGroupName=group, filterPattern='{ $.level = "ERROR" }')
    assert [json.loads(e["message"])["word"] for e in errors["events"]] == [word]
    either = logs.filter_log_events(logGroupName=group, filterPattern=f"?{word} ?second")
    assert len(either["events"]) == 4
    phrase = logs.filter_log_events(logGroupName=group, filterPattern='"hello second"')
    assert [e["message"] for e in phrase["events"]] == ["hello second"]
    excluded = logs.filter_log_events(logGroupName=group, filterPattern="hello -second")
    assert [e["message"] for e in excluded["events"]] == [f"hello {word}"]
    later = logs.filter_log_events(logGroupName=group, startTime=int(time.time() * 1000) + 60_000)
    assert later["events"] == []


def test_user_groups_streams_and_events(logs: Any) -> None:
    group = new_group(logs, tags={"team": "a"})
    with pytest.raises(ClientError) as caught:
        logs.create_log_group(logGroupName=group)
    assert code_of(caught) == "ResourceAlreadyExistsException"
    assert caught.value.response["Error"]["Message"] == "The specified log group already exists"

    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    with pytest.raises(ClientError) as caught:
        logs.create_log_stream(logGroupName=group, logStreamName="s1")
    assert code_of(caught) == "ResourceAlreadyExistsException"
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": now + i, "message": f"line {i}\nwith\ttab"} for i in range(5)],
    )
    pages = []
    token = None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.get_log_events(
            logGroupName=group, logStreamName="s1", startFromHead=True, limit=2, **kwargs
        )
        assert page["nextForwardToken"].startswith("f/")
        assert page["nextBackwardToken"].startswith("b/")
        pages.append([e["message"] for e in page["events"]])
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert [m for p in pages for m in p] == [f"line {i}\nwith\ttab" for i in range(5)]
    assert pages[:3] == [["line 0\nwith\ttab", "line 1\nwith\ttab"], pages[1], pages[2]]
    newest = logs.get_log_events(logGroupName=group, logStreamName="s1", limit=2)
    assert [e["message"][:6] for e in newest["events"]] == ["line 3", "line 4"]
    older = logs.get_log_events(
        logGroupName=group, logStreamName="s1", limit=2, nextToken=newest["nextBackwardToken"]
    )
    assert [e["message"][:6] for e in older["events"]] == ["line 1", "line 2"]

    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["firstEventTimestamp"] == now and stream["lastEventTimestamp"] == now + 4
    logs.create_log_stream(logGroupName=group, logStreamName="s0")
    ordered = logs.describe_log_streams(
        logGroupName=group, orderBy="LastEventTime", descending=True
    )
    assert [s["logStreamName"] for s in ordered["logStreams"]] == ["s1", "s0"]
    first = logs.describe_log_streams(logGroupName=group, limit=1)
    assert [s["logStreamName"] for s in first["logStreams"]] == ["s0"]
    second = logs.describe_log_streams(logGroupName=group, limit=1, nextToken=first["nextToken"])
    assert [s["logStreamName"] for s in second["logStreams"]] == ["s1"]
    assert "nextToken" not in second

    described = logs.describe_log_groups(logGroupNamePattern=group.split("/")[-1].upper())
    assert [g["logGroupName"] for g in described["logGroups"]] == [group]
    arn = described["logGroups"][0]["logGroupArn"]
    with pytest.raises(ClientError) as caught:  # the `:*` form is refused (AWS-verified text)
        logs.describe_log_streams(logGroupIdentifier=described["logGroups"][0]["arn"])
    assert code_of(caught) == "InvalidParameterException"
    assert caught.value.response["Error"]["Message"] == (
        "1 validation error detected: Value at 'logGroupIdentifier' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\w#+=/:,.@-]*"
    )
    assert logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}
    logs.tag_resource(resourceArn=arn, tags={"env": "dev"})
    logs.tag_log_group(logGroupName=group, tags={"x": "1"})
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"env": "dev", "x": "1"}

    logs.delete_log_stream(logGroupName=group, logStreamName="s1")
    with pytest.raises(ClientError) as caught:
        logs.get_log_events(logGroupName=group, logStreamName="s1")
    assert code_of(caught) == "ResourceNotFoundException"
    assert caught.value.response["Error"]["Message"] == "The specified log stream does not exist."
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    assert logs.get_log_events(logGroupName=group, logStreamName="s1")["events"] == []

    logs.delete_log_group(logGroupName=group)
    with pytest.raises(ClientError) as caught:
        logs.delete_log_group(logGroupName=group)
    assert code_of(caught) == "ResourceNotFoundException"
    assert caught.value.response["Error"]["Message"] == "The specified log group does not exist."


def test_pagination_of_groups(logs: Any) -> None:
    prefix = f"/pages/{uuid.uuid4().hex[:8]}/"
    for index in range(5):
        logs.create_log_group(logGroupName=f"{prefix}{index}")
    names: list[str] = []
    paginator = logs.get_paginator("describe_log_groups")
    for page in paginator.paginate(logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 2}):
        assert len(page["logGroups"]) <= 2
        names += [g["logGroupName"] for g in page["logGroups"]]
    assert names == [f"{prefix}{i}" for i in range(5)]
    with pytest.raises(ClientError) as caught:
        logs.describe_log_groups(logGroupNamePrefix=prefix, logGroupNamePattern="x")
    assert code_of(caught) == "InvalidParameterException"
    with pytest.raises(ClientError) as caught:
        logs.describe_log_groups(limit=51)  # Logs reports constraint violations as its own error
    assert code_of(caught) == "InvalidParameterException"
    assert caught.value.response["Error"]["Message"].startswith("1 validation error detected: ")


def test_put_log_events_limits_and_retention(logs: Any) -> None:
    group = new_group(logs)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    day = 86_400_000

    def put(events: list[dict[str, Any]], stream: str = "s") -> Any:
        return logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    with pytest.raises(ClientError) as caught:
        put([{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
    assert code_of(caught) == "InvalidParameterException"
    assert "chronological order" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        put([{"timestamp": now, "message": "x" * 262_144}])
    assert code_of(caught) == "InvalidParameterException"
    with pytest.raises(ClientError) as caught:
        put([{"timestamp": now, "message": "x"}], stream="missing")
    assert code_of(caught) == "ResourceNotFoundException"

    with pytest.raises(ClientError) as caught:
        put([{"timestamp": now - 2 * day, "message": "a"}, {"timestamp": now, "message": "b"}])
    assert "cannot span more than 24 hours" in caught.value.response["Error"]["Message"]
    answer = put(
        [
            {"timestamp": now - 15 * day, "message": "too old"},
            {"timestamp": now - 15 * day + 1, "message": "too old too"},
        ]
    )
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    assert "rejectedLogEventsInfo" not in put(
        [{"timestamp": now - 2 * day, "message": "two days old"}]
    )
    put([{"timestamp": now, "message": "fresh"}])
    answer = put([{"timestamp": now + 3 * 3_600_000, "message": "future"}])
    assert answer["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 0}

    def messages() -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]

    assert messages() == ["two days old", "fresh"]
    with pytest.raises(ClientError) as caught:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert code_of(caught) == "InvalidParameterException"
    assert "enum value set" in caught.value.response["Error"]["Message"]
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    assert (
        logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 1
    )
    assert messages() == ["fresh"]
    expired = put([{"timestamp": now - 2 * day, "message": "expired"}])
    assert expired["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}
    logs.delete_retention_policy(logGroupName=group)
    assert messages() == ["two days old", "fresh"]


def test_filter_pages_hold_at_most_a_megabyte_and_times_bound_reads(logs: Any) -> None:
    group = new_group(logs)
    logs.create_log_stream(logGroupName=group, logStreamName="big")
    now = int(time.time() * 1000)
    for batch in range(3):
        logs.put_log_events(
            logGroupName=group,
            logStreamName="big",
            logEvents=[
                {"timestamp": now + batch * 10 + i, "message": f"{batch}-{i} " + "y" * 200_000}
                for i in range(4)
            ],
        )
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group))
    assert len(pages) >= 3
    for page in pages:
        assert sum(len(e["message"]) + 26 for e in page["events"]) <= 1_048_576
    seen = [e["message"].split()[0] for page in pages for e in page["events"]]
    assert seen == [f"{b}-{i}" for b in range(3) for i in range(4)]
    ids = [e["eventId"] for page in pages for e in page["events"]]
    assert len(set(ids)) == 12

    window = logs.get_log_events(
        logGroupName=group,
        logStreamName="big",
        startTime=now + 10,
        endTime=now + 20,
        startFromHead=True,
    )
    assert [e["message"].split()[0] for e in window["events"]] == [f"1-{i}" for i in range(4)]
    inclusive = logs.filter_log_events(logGroupName=group, startTime=now + 13, endTime=now + 20)
    assert [e["message"].split()[0] for e in inclusive["events"]] == ["1-3", "2-0"]


def test_a_custom_log_group_and_an_access_log_are_groups(
    server: Server, logs: Any, make_function: FunctionFactory
) -> None:
    custom = new_group(logs)
    name = make_function(PRINTER, LoggingConfig={"LogFormat": "Text", "LogGroup": custom})
    word = uuid.uuid4().hex
    server.client().invoke(FunctionName=name, Payload=json.dumps({"word": word}))

    def custom_events() -> list[str]:
        found = logs.filter_log_events(logGroupName=custom, filterPattern=word)["events"]
        return [e["message"] for e in found]

    assert wait_for(custom_events)[0] == f"hello {word}"

    access = new_group(logs)
    v2 = server.client("apigatewayv2")
    api_id = v2.create_api(Name="logged", ProtocolType="HTTP")["ApiId"]
    function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    server.client().add_permission(
        FunctionName=name,
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
    )
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    v2.create_route(ApiId=api_id, RouteKey="GET /hi", Target=f"integrations/{integration}")
    v2.create_stage(
        ApiId=api_id,
        StageName="$default",
        AutoDeploy=True,
        AccessLogSettings={
            "DestinationArn": f"arn:aws:logs:us-east-1:000000000000:log-group:{access}",
            "Format": '{"status":"$context.status","routeKey":"$context.routeKey"}',
        },
    )
    with urllib.request.urlopen(f"{server.endpoint}/_aws/execute-api/{api_id}/hi") as answer:
        assert answer.status == 200

    def access_events() -> list[dict[str, str]]:
        found = logs.filter_log_events(logGroupName=access)["events"]
        return [json.loads(e["message"]) for e in found]

    assert wait_for(access_events) == [{"status": "200", "routeKey": "GET /hi"}]
    (stream,) = logs.describe_log_streams(logGroupName=access)["logStreams"]
    assert stream["logStreamName"] == f"{api_id}/$default"


def test_polling_as_logs_tail_follow_does(logs: Any) -> None:
    """AWS CLI v2's `logs tail --follow` (not installed here) polls FilterLogEvents from the
    last timestamp it saw and drops the events whose `eventId` it already printed: the ids
    must be stable across polls, and new events must show up."""
    group = new_group(logs)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)

    def put(message: str, stamp: int) -> None:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": stamp, "message": message}],
        )

    def poll(since: int) -> list[dict[str, Any]]:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupIdentifier=group, startTime=since, interleaved=True
        )
        return [event for page in pages for event in page["events"]]

    put("one", now)
    first = poll(now - 1000)
    put("two", now + 1)
    second = poll(first[-1]["timestamp"])
    assert second[0]["eventId"] == first[0]["eventId"]
    printed = {e["eventId"] for e in first}
    assert [e["message"] for e in second if e["eventId"] not in printed] == ["two"]


def test_an_operation_fireside_lacks_is_named(logs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        logs.describe_metric_filters()
    assert code_of(caught) == "NotImplementedException"
    assert "DescribeMetricFilters" in caught.value.response["Error"]["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("logs-accounts"), env={"FIRESIDE_CREDENTIALS": credentials}
    ).start()
    yield server
    server.stop()


def test_accounts_see_only_their_own_groups(two_accounts: Server) -> None:
    logs_a, logs_b = (
        two_accounts.client("logs", aws_access_key_id=k, aws_secret_access_key=SECRETS[k])
        for k in (A, B)
    )
    logs_a.create_log_group(logGroupName="/shared/name")
    logs_a.create_log_stream(logGroupName="/shared/name", logStreamName="s")
    logs_a.put_log_events(
        logGroupName="/shared/name",
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "of a"}],
    )
    assert logs_b.describe_log_groups()["logGroups"] == []
    arn = f"arn:aws:logs:us-east-1:{A}:log-group:/shared/name"
    for call in (
        lambda: logs_b.filter_log_events(logGroupIdentifier=arn),
        lambda: logs_b.list_tags_for_resource(resourceArn=arn),
        lambda: logs_b.get_log_events(logGroupName="/shared/name", logStreamName="s"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught) == "ResourceNotFoundException"
    tail_b = two_accounts.client(
        "logs", aws_access_key_id=B, aws_secret_access_key=SECRETS[B], inject_host_prefix=False
    )
    with pytest.raises(ClientError) as caught:
        tail_b.start_live_tail(logGroupIdentifiers=[arn])
    assert code_of(caught) == "ResourceNotFoundException"
    logs_b.create_log_group(logGroupName="/shared/name")  # the same name, its own group
    # A's ARN names A's group, not B's of the same name.
    listed = logs_b.describe_log_groups(logGroupIdentifiers=[arn])
    assert listed["logGroups"] == []
    own = f"arn:aws:logs:us-east-1:{B}:log-group:/shared/name"
    assert len(logs_b.describe_log_groups(logGroupIdentifiers=[own])["logGroups"]) == 1
    assert logs_b.filter_log_events(logGroupName="/shared/name")["events"] == []
    events = logs_a.filter_log_events(logGroupIdentifier=arn)["events"]
    assert [e["message"] for e in events] == ["of a"]


def read_live_tail(logs: Any, **kwargs: Any) -> tuple[queue.Queue[Any], Any]:
    response = logs.start_live_tail(**kwargs)
    stream = response["responseStream"]
    events: queue.Queue[Any] = queue.Queue()

    def pump() -> None:
        try:
            for event in stream:
                events.put(event)
        except Exception as exc:  # the stream closed under us at the end of the test
            events.put(exc)

    threading.Thread(target=pump, daemon=True).start()
    return events, stream


def test_live_tail_sees_events_written_after_it_started(
    server: Server, make_function: FunctionFactory
) -> None:
    logs = server.client("logs", inject_host_prefix=False)
    group = new_group(logs)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    name = make_function(PRINTER)
    function_group = f"/aws/lambda/{name}"
    logs.create_log_group(logGroupName=function_group)  # created before the function logs
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    function_arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{function_group}"
    events, stream = read_live_tail(
        logs, logGroupIdentifiers=[arn, function_arn], logEventFilterPattern="-skipped"
    )
    first = events.get(timeout=10)
    assert first["sessionStart"]["logGroupIdentifiers"] == [arn, function_arn]

    word = uuid.uuid4().hex
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": int(time.time() * 1000), "message": f"skipped {word}"},
            {"timestamp": int(time.time() * 1000), "message": f"put {word}"},
        ],
    )
    server.client().invoke(FunctionName=name, Payload=json.dumps({"word": word}))
    seen: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while len(seen) < 2 and time.monotonic() < deadline:
        event = events.get(timeout=max(deadline - time.monotonic(), 0.1))
        assert not isinstance(event, Exception), event
        for result in event["sessionUpdate"]["sessionResults"]:
            if word in result["message"]:
                seen.setdefault(result["logGroupIdentifier"], result["message"])
    assert seen == {arn: f"put {word}", function_arn: f"hello {word}"}
    assert server.health()["logs_live_tail_sessions"] >= 1
    stream.close()  # the client leaves: the server notices at its next update and stops
    wait_for(lambda: server.health()["logs_live_tail_sessions"] == 0)


def test_start_live_tail_refuses_bad_identifiers(server: Server) -> None:
    logs = server.client("logs", inject_host_prefix=False)
    with pytest.raises(ClientError) as caught:
        logs.start_live_tail(
            logGroupIdentifiers=["arn:aws:logs:us-east-1:000000000000:log-group:/none"]
        )
    assert code_of(caught) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        logs.start_live_tail(logGroupIdentifiers=["/not/an/arn"])
    assert code_of(caught) == "InvalidParameterException"


def aws_cli(server: Server, *args: str, **popen: Any) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "PYTHONUNBUFFERED": "1",
    }
    command = [str(Path(sys.executable).parent / "aws"), "logs", *args]
    if popen:
        return subprocess.Popen(command, env=env, cwd=ROOT, text=True, **popen)
    return subprocess.run(command, env=env, cwd=ROOT, text=True, capture_output=True, check=True)


def test_the_aws_cli_reads_and_tails_a_group(server: Server) -> None:
    logs = server.client("logs")
    group = new_group(logs)
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="app",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "before the tail"}],
    )
    listed = json.loads(aws_cli(server, "filter-log-events", "--log-group-name", group).stdout)
    assert [e["message"] for e in listed["events"]] == ["before the tail"]
    got = json.loads(
        aws_cli(
            server, "get-log-events", "--log-group-name", group, "--log-stream-name", "app"
        ).stdout
    )
    assert [e["message"] for e in got["events"]] == ["before the tail"]

    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    tail = aws_cli(
        server,
        "start-live-tail",
        "--log-group-identifiers",
        arn,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    word = uuid.uuid4().hex
    lines: queue.Queue[str] = queue.Queue()
    try:
        reader = threading.Thread(
            target=lambda: [lines.put(line) for line in tail.stdout], daemon=True
        )
        reader.start()
        deadline = time.monotonic() + 30
        found = False
        while not found and time.monotonic() < deadline:
            # Put until the tail (started asynchronously) has seen one.
            logs.put_log_events(
                logGroupName=group,
                logStreamName="app",
                logEvents=[{"timestamp": int(time.time() * 1000), "message": f"tailed {word}"}],
            )
            try:
                line = lines.get(timeout=1.5)
            except queue.Empty:
                continue
            assert "Error" not in line and "Traceback" not in line, line
            found = f"tailed {word}" in line
        assert found
    finally:
        tail.send_signal(signal.SIGINT)
        tail.wait(timeout=10)
        reader.join(timeout=10)
        tail.stdout.close()


def test_groups_and_events_survive_a_crash(fresh_server: Callable[..., Server]) -> None:
    first = fresh_server()
    logs = first.client("logs")
    logs.create_log_group(logGroupName="/durable")
    logs.put_retention_policy(logGroupName="/durable", retentionInDays=7)
    logs.create_log_stream(logGroupName="/durable", logStreamName="s")
    stamp = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/durable",
        logStreamName="s",
        logEvents=[{"timestamp": stamp, "message": "kept"}],
    )
    first.stop(signal.SIGKILL)
    second = fresh_server(first.data_dir)
    logs = second.client("logs")
    (group,) = logs.describe_log_groups()["logGroups"]
    assert group["logGroupName"] == "/durable" and group["retentionInDays"] == 7
    events = logs.get_log_events(logGroupName="/durable", logStreamName="s")["events"]
    assert [(e["timestamp"], e["message"]) for e in events] == [(stamp, "kept")]
