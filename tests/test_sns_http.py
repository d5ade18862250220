"""SNS deliveries to HTTP/S endpoints, in-process against a real local HTTP server: AWS's
request shape, signatures that verify, retries on AWS's delivery-policy schedule, 4xx and
redirects not retried, throttling, bounded concurrency, https certificate checks, dead-letter
queues through `Targets` (a real SQS provider, two accounts), and the outbox surviving a
restart and a `kill -9`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fireside.aws.context import RequestContext
from fireside.config import load_settings
from fireside.sns.delivery_policy import DEFAULT, parse_policy, policy_error
from fireside.sns.http_delivery import HttpDelivery, HttpMessage
from fireside.sns.http_post import PostError, post
from fireside.sns.signing import Signer
from fireside.sqs import SqsProvider, SqsStore
from fireside.sqs.targets import QueueTargets
from fireside.targets import Targets
from tests.conftest import ROOT
from tests.sns_endpoint import Endpoint, Received
from tests.test_sns_signing import verify_with

TOPIC = "arn:aws:sns:us-east-1:111111111111:orders"
SUBSCRIPTION = f"{TOPIC}:0b4a2a1e-4c6f-4e37-9c1f-2f1cbb3c1a11"
FIRESIDE = "http://127.0.0.1:4566"


def notification(endpoint: str, number: int = 1, **kwargs: Any) -> HttpMessage:
    fields = {
        "Type": "Notification",
        "MessageId": f"00000000-0000-0000-0000-{number:012d}",
        "TopicArn": TOPIC,
        "Subject": "hello",
        "Message": f"message {number}",
        "Timestamp": "2026-12-07T06:00:00.000Z",
        "UnsubscribeURL": f"{FIRESIDE}/?Action=Unsubscribe&SubscriptionArn={SUBSCRIPTION}",
    }
    return HttpMessage(
        endpoint=endpoint,
        message_type="Notification",
        fields=fields,
        topic_arn=TOPIC,
        subscription_arn=SUBSCRIPTION,
        **kwargs,
    )


def quick(**retry: Any) -> dict[str, Any]:
    """A subscription's delivery policy with short delays (AWS's minimum delay is 1 s)."""
    return {"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, **retry}}


@pytest.fixture()
def endpoint() -> Iterator[Endpoint]:
    found = Endpoint()
    yield found
    found.close()


@pytest.fixture()
def signer(tmp_path: Path) -> Signer:
    return Signer(tmp_path / "signing")


def running(
    delivery: HttpDelivery, scenario: Callable[[], Awaitable[None]], *, close: bool = True
) -> None:
    """Run `scenario` while the delivery loop runs (then stop the loop)."""

    async def main() -> None:
        loop = asyncio.create_task(delivery.run())
        try:
            await scenario()
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)

    try:
        asyncio.run(main())
    finally:
        if close:
            delivery.close()


async def arrived(endpoint: Endpoint, count: int, timeout: float = 30) -> list[Received]:
    return await asyncio.to_thread(endpoint.wait, count, timeout)


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_a_notification_is_posted_as_aws_posts_it(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    delivery = HttpDelivery(tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE)
    delivery.enqueue([notification(endpoint.url)])

    async def scenario() -> None:
        await arrived(endpoint, 1)
        await until(lambda: delivery.stats()["delivered"] == 1)

    running(delivery, scenario, close=False)
    [request] = endpoint.requests
    assert request.method == "POST" and request.path == "/hook"
    headers = request.headers
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert headers["user-agent"] == "Amazon Simple Notification Service Agent"
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == "00000000-0000-0000-0000-000000000001"
    assert headers["x-amz-sns-topic-arn"] == TOPIC
    assert headers["x-amz-sns-subscription-arn"] == SUBSCRIPTION
    assert "x-amz-sns-rawdelivery" not in headers
    assert headers["host"] == endpoint.url.split("/")[2]
    document = json.loads(request.body)
    assert list(document) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
    ]
    assert b'"Type" : "Notification"' in request.body  # AWS's formatting
    assert document["SignatureVersion"] == "1"
    assert document["SigningCertURL"] == f"{FIRESIDE}{signer.cert_path}"
    verify_with(signer.certificate_pem(), document)
    assert delivery.pending() == 0
    delivery.close()


def test_credentials_in_the_url_are_sent_as_basic_auth(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    delivery = HttpDelivery(tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE)
    url = endpoint.url.replace("http://", "http://user%40x:p%3Ass@")
    delivery.enqueue([notification(url)])

    async def scenario() -> None:
        await arrived(endpoint, 1)

    running(delivery, scenario)
    headers = endpoint.requests[0].headers
    assert headers["authorization"] == "Basic " + base64.b64encode(b"user@x:p:ss").decode()
    assert headers["host"] == endpoint.url.split("/")[2]


def test_raw_delivery_and_confirmations(tmp_path: Path, endpoint: Endpoint, signer: Signer) -> None:
    delivery = HttpDelivery(tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE)
    confirmation = HttpMessage(
        endpoint=endpoint.url,
        message_type="SubscriptionConfirmation",
        fields={
            "Type": "SubscriptionConfirmation",
            "MessageId": "c0c0c0c0-0000-0000-0000-000000000000",
            "Token": "abc123",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic.",
            "SubscribeURL": f"{FIRESIDE}/?Action=ConfirmSubscription&Token=abc123",
            "Timestamp": "2026-12-07T06:00:00.000Z",
        },
        topic_arn=TOPIC,
        signature_version="2",
    )
    delivery.enqueue([notification(endpoint.url, raw=True), confirmation])

    async def scenario() -> None:
        await arrived(endpoint, 2)

    running(delivery, scenario)
    by_type = {r.headers["x-amz-sns-message-type"]: r for r in endpoint.requests}
    raw = by_type["Notification"]
    assert raw.body == b"message 1"
    assert raw.headers["x-amz-sns-rawdelivery"] == "true"
    assert raw.headers["x-amz-sns-subscription-arn"] == SUBSCRIPTION
    confirm = by_type["SubscriptionConfirmation"]
    assert "x-amz-sns-subscription-arn" not in confirm.headers
    document = json.loads(confirm.body)
    assert document["SignatureVersion"] == "2"
    verify_with(signer.certificate_pem(), document)


def test_failures_are_retried_on_the_policy_schedule_then_dropped(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    """1 retry at once, 1 after minDelayTarget, 1 backoff retry at maxDelayTarget: four
    attempts, 0 s, 1 s and 2 s apart; then the message is dropped and counted."""
    endpoint.answer = lambda request: 500
    policy = {
        "healthyRetryPolicy": {
            "numRetries": 3,
            "numNoDelayRetries": 1,
            "numMinDelayRetries": 1,
            "minDelayTarget": 1,
            "maxDelayTarget": 2,
        }
    }
    delivery = HttpDelivery(tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE)
    delivery.enqueue([notification(endpoint.url, delivery_policy=policy)])

    async def scenario() -> None:
        await arrived(endpoint, 4)
        await until(lambda: delivery.stats()["failed"] == 1)

    running(delivery, scenario, close=False)
    times = [r.at for r in endpoint.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[0] < 0.5, gaps
    assert 0.9 < gaps[1] < 1.9, gaps
    assert 1.9 < gaps[2] < 2.9, gaps
    assert len({r.headers["x-amz-sns-message-id"] for r in endpoint.requests}) == 1
    assert delivery.pending() == 0
    assert delivery.stats()["retried"] == 3
    delivery.close()


def test_4xx_and_redirects_end_the_delivery_and_a_timeout_is_retried(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    """AWS: a status outside 200-4xx, or no answer in time, is a failed attempt; so a 404 or
    a 301 is not retried (and a redirect is not followed)."""
    release = threading.Event()

    def answer(request: Received) -> int:
        number = json.loads(request.body)["Message"]
        if number == "message 1":
            return 404
        if number == "message 2":
            return 301
        if len([r for r in endpoint.requests if r.body == request.body]) == 1:
            release.wait(10)  # the first try of message 3 outlasts the timeout
        return 200

    endpoint.answer = answer
    delivery = HttpDelivery(
        tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE, timeout=0.5
    )
    policy = quick(numRetries=1, numNoDelayRetries=1)
    delivery.enqueue([notification(endpoint.url, n, delivery_policy=policy) for n in (1, 2, 3)])

    async def scenario() -> None:
        await until(lambda: delivery.stats()["delivered"] == 1)
        release.set()

    running(delivery, scenario, close=False)
    paths = [r.path for r in endpoint.requests]
    assert paths.count("/redirected") == 0
    assert len(endpoint.requests) == 4  # 1, 2, and message 3 twice
    stats = delivery.stats()
    assert stats["rejected"] == 2 and stats["retried"] == 1 and stats["pending"] == 0
    delivery.close()


def test_throttle_and_bounded_concurrency(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    throttled = {"throttlePolicy": {"maxReceivesPerSecond": 4}}
    delivery = HttpDelivery(
        tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE, concurrency=2
    )
    delivery.enqueue([notification(endpoint.url, n, delivery_policy=throttled) for n in range(5)])

    async def scenario() -> None:
        await arrived(endpoint, 5)

    started = time.monotonic()
    running(delivery, scenario)
    last = max(r.at for r in endpoint.requests)
    assert last - started >= 0.95, last - started  # 5 at 4 a second: the 5th 1 s after the 1st

    gate = threading.Event()
    endpoint.requests.clear()
    endpoint.answer = lambda request: 200 if gate.wait(10) else 500
    second = HttpDelivery(
        tmp_path / "out2.sqlite", signer, Targets(), endpoint_url=FIRESIDE, concurrency=2
    )
    second.enqueue([notification(endpoint.url, n) for n in range(6)])
    endpoint.most_in_flight = 0

    async def bounded() -> None:
        await arrived(endpoint, 2)
        await asyncio.sleep(0.3)  # would let a third POST in, if the bound were broken
        assert len(endpoint.requests) == 2
        gate.set()
        await arrived(endpoint, 6)
        await until(lambda: second.stats()["delivered"] == 6)

    running(second, bounded)
    assert endpoint.most_in_flight == 2


def test_a_throttled_backlog_does_not_hold_up_other_subscriptions(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    """300 messages for a subscription throttled to 1 a second are queued before one for
    another subscription: that one is posted at once, not after the backlog."""
    slow = {"throttlePolicy": {"maxReceivesPerSecond": 1}}
    delivery = HttpDelivery(tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE)
    delivery.enqueue([notification(endpoint.url, n, delivery_policy=slow) for n in range(300)])
    delivery.enqueue([notification(endpoint.url + "?other", 999)])

    async def scenario() -> None:
        await asyncio.to_thread(
            endpoint.wait_for, lambda requests: any(r.path.endswith("?other") for r in requests), 5
        )

    running(delivery, scenario)
    throttled = [r for r in endpoint.requests if not r.path.endswith("?other")]
    assert 1 <= len(throttled) <= 3


def test_https_endpoints_need_a_trusted_certificate(tmp_path: Path, signer: Signer) -> None:
    secure = Endpoint(tls_dir=tmp_path)
    try:
        strict = HttpDelivery(tmp_path / "a.sqlite", signer, Targets(), endpoint_url=FIRESIDE)
        strict.enqueue([notification(secure.url, delivery_policy=quick(numRetries=0))])

        async def refused() -> None:
            await until(lambda: strict.stats()["failed"] == 1)

        running(strict, refused)
        assert secure.requests == []  # the handshake failed: nothing was sent
        lenient = HttpDelivery(
            tmp_path / "b.sqlite", signer, Targets(), endpoint_url=FIRESIDE, verify_tls=False
        )
        lenient.enqueue([notification(secure.url)])

        async def accepted() -> None:
            await arrived(secure, 1)
            await until(lambda: lenient.stats()["delivered"] == 1)

        running(lenient, accepted)
        verify_with(signer.certificate_pem(), json.loads(secure.requests[0].body))
    finally:
        secure.close()


def dlq_policy(queue_arn: str, topic_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


def test_exhausted_messages_go_to_the_dead_letter_queue_its_policy_allows(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    """AWS keeps a subscription's dead-letter queue in the topic's account (111111111111):
    its policy grants SNS for this topic, so the message goes in. A queue of another account
    (222222222222) whose policy names another topic refuses it: the message is dropped."""
    endpoint.answer = lambda request: 503
    sqs = SqsProvider(SqsStore(tmp_path / "sqs.sqlite"))
    targets = Targets()
    targets.register("sqs", QueueTargets(sqs))

    def call(account: str, operation: str, **params: Any) -> Any:
        context = RequestContext(account, "us-east-1", "req", FIRESIDE)
        return asyncio.run(sqs.operations()[operation](context, params))

    arns = {}
    for account, name, topic in (
        ("111111111111", "dlq", TOPIC),
        ("222222222222", "other", TOPIC + "-x"),
    ):
        url = call(account, "CreateQueue", QueueName=name)["QueueUrl"]
        arn = f"arn:aws:sqs:us-east-1:{account}:{name}"
        call(
            account,
            "SetQueueAttributes",
            QueueUrl=url,
            Attributes={"Policy": dlq_policy(arn, topic)},
        )
        arns[name] = (url, arn, account)
    delivery = HttpDelivery(tmp_path / "out.sqlite", signer, targets, endpoint_url=FIRESIDE)
    once = quick(numRetries=1)
    delivery.enqueue(
        [
            notification(endpoint.url, 1, delivery_policy=once, dead_letter_arn=arns["dlq"][1]),
            notification(endpoint.url, 2, delivery_policy=once, dead_letter_arn=arns["other"][1]),
            notification(endpoint.url, 3, raw=True, delivery_policy=once, dead_letter_arn=arns["dlq"][1]),
            dataclasses.replace(  # a confirmation is never dead-lettered
                notification(endpoint.url, 4, delivery_policy=once, dead_letter_arn=arns["dlq"][1]),
                message_type="SubscriptionConfirmation", subscription_arn=None,
            ),
        ]
    )  # fmt: skip

    async def scenario() -> None:
        await until(lambda: delivery.stats()["pending"] == 0)

    running(delivery, scenario, close=False)
    assert len(endpoint.requests) == 8  # each tried twice
    stats = delivery.stats()
    assert stats["dead_lettered"] == 2 and stats["failed"] == 2, stats
    got = call("111111111111", "ReceiveMessage", QueueUrl=arns["dlq"][0], MaxNumberOfMessages=10)[
        "Messages"
    ]
    bodies = sorted(m["Body"] for m in got)
    assert bodies[0] == "message 3"  # raw: the message itself
    document = json.loads(bodies[1])  # else the signed document the endpoint was sent
    assert document["Message"] == "message 1"
    verify_with(signer.certificate_pem(), document)
    other = call(
        "222222222222", "ReceiveMessage", QueueUrl=arns["other"][0], MaxNumberOfMessages=10
    )
    assert other.get("Messages", []) == []
    delivery.close()
    sqs.close()


def test_the_outbox_survives_a_restart_of_the_delivery(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    endpoint.answer = lambda request: 500
    first = HttpDelivery(tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE)
    first.enqueue([notification(endpoint.url, delivery_policy=quick(numRetries=5))])

    async def failing() -> None:
        await arrived(endpoint, 1)
        await until(lambda: first.stats()["retried"] == 1)

    running(first, failing)  # stopped with the message waiting for its retry
    endpoint.answer = lambda request: 200
    second = HttpDelivery(tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE)
    assert second.pending() == 1

    async def recovered() -> None:
        await until(lambda: second.stats()["delivered"] == 1)

    running(second, recovered)
    assert len(endpoint.requests) == 2


def test_an_enqueued_message_survives_kill_9(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    """Another process enqueues and is killed (SIGKILL) before it can deliver anything; the
    message is delivered by the next process to open the outbox."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from fireside.sns.http_delivery import HttpDelivery, HttpMessage
        from fireside.sns.signing import Signer
        from fireside.targets import Targets
        delivery = HttpDelivery(Path({str(tmp_path / "out.sqlite")!r}),
                                Signer(Path({str(tmp_path / "signing")!r})), Targets())
        delivery.enqueue([HttpMessage(endpoint={endpoint.url!r}, message_type="Notification",
                          fields={{"Type": "Notification", "MessageId": "m-1",
                                   "TopicArn": {TOPIC!r}, "Message": "kept",
                                   "Timestamp": "2026-12-07T06:00:00.000Z"}},
                          topic_arn={TOPIC!r}, subscription_arn={SUBSCRIPTION!r})])
        print("queued", flush=True)
        time.sleep(600)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "queued"
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    process.stdout.close()
    assert endpoint.requests == []
    delivery = HttpDelivery(tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE)

    async def scenario() -> None:
        await arrived(endpoint, 1)

    running(delivery, scenario)
    assert json.loads(endpoint.requests[0].body)["Message"] == "kept"


# -- the delivery policy ------------------------------------------------------------------------


def test_aws_default_policy_is_three_retries_20_seconds_apart() -> None:
    assert [DEFAULT.delay(n) for n in (1, 2, 3)] == [20.0, 20.0, 20.0]
    assert parse_policy(None) == DEFAULT
    assert parse_policy({}) == DEFAULT


def test_the_phases_of_awss_example_policy() -> None:
    policy = parse_policy(
        {
            "healthyRetryPolicy": {
                "minDelayTarget": 1,
                "maxDelayTarget": 60,
                "numRetries": 50,
                "numNoDelayRetries": 3,
                "numMinDelayRetries": 2,
                "numMaxDelayRetries": 35,
                "backoffFunction": "exponential",
            },
            "throttlePolicy": {"maxReceivesPerSecond": 10},
        }
    )
    delays = [policy.delay(n) for n in range(1, 51)]
    assert delays[:3] == [0, 0, 0]
    assert delays[3:5] == [1, 1]
    backoff = delays[5:15]
    assert backoff[0] == 1 and backoff[-1] == 60 and backoff == sorted(backoff)
    assert delays[15:] == [60] * 35
    assert policy.max_per_second == 10
    assert policy_error(json.dumps({"healthyRetryPolicy": policy_fields(policy)})) is None


def policy_fields(policy: Any) -> dict[str, Any]:
    return {
        "minDelayTarget": int(policy.min_delay),
        "maxDelayTarget": int(policy.max_delay),
        "numRetries": policy.num_retries,
        "numNoDelayRetries": policy.num_no_delay,
        "numMinDelayRetries": policy.num_min_delay,
        "numMaxDelayRetries": policy.num_max_delay,
        "backoffFunction": policy.backoff,
    }


@pytest.mark.parametrize("function", ["linear", "arithmetic", "geometric", "exponential"])
def test_backoff_functions_run_from_min_to_max(function: str) -> None:
    policy = parse_policy(
        {"healthyRetryPolicy": {"minDelayTarget": 5, "maxDelayTarget": 260, "numRetries": 10,
                                "backoffFunction": function}}
    )  # fmt: skip
    delays = [policy.delay(n) for n in range(1, 11)]
    assert delays[0] == 5 and delays[-1] == pytest.approx(260)
    assert delays == sorted(delays)
    assert 5 < delays[4] < 260


def test_backoff_curves_differ() -> None:
    def middle(function: str) -> float:
        return parse_policy(
            {"healthyRetryPolicy": {"minDelayTarget": 5, "maxDelayTarget": 260,
                                    "numRetries": 11, "backoffFunction": function}}
        ).delay(6)  # fmt: skip

    assert middle("linear") == pytest.approx(132.5)
    assert middle("exponential") < middle("geometric") < middle("arithmetic") < middle("linear")


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ({"healthyRetryPolicy": {"minDelayTarget": 0, "maxDelayTarget": 5}}, "minDelayTarget"),
        ({"healthyRetryPolicy": {"minDelayTarget": 10, "maxDelayTarget": 5}}, "minDelayTarget"),
        ({"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 3601}}, "maxDelayTarget"),
        ({"healthyRetryPolicy": {"numRetries": 101, "minDelayTarget": 1, "maxDelayTarget": 1}},
         "numRetries"),
        ({"healthyRetryPolicy": {"numRetries": -1}}, "numRetries"),
        ({"healthyRetryPolicy": {"numRetries": 2, "numNoDelayRetries": 3}}, "exceed numRetries"),
        ({"healthyRetryPolicy": {"backoffFunction": "cubic"}}, "backoffFunction"),
        ({"healthyRetryPolicy": {"numRetries": 100, "minDelayTarget": 60,
                                 "maxDelayTarget": 60}}, "3600"),
        ({"throttlePolicy": {"maxReceivesPerSecond": 0}}, "maxReceivesPerSecond"),
        ({"requestPolicy": {"headerContentType": "a\r\nb: c"}}, "headerContentType"),
        ({"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 0}}}, "minDelayTarget"),
        ("{not json", "JSON"),
    ],
)  # fmt: skip
def test_policies_outside_awss_limits_are_refused(policy: Any, problem: str) -> None:
    error = policy_error(policy)
    assert error is not None and problem in error, error


def test_topic_shaped_policies_and_content_type_are_read(
    tmp_path: Path, endpoint: Endpoint, signer: Signer
) -> None:
    topic_policy = {
        "http": {
            "defaultHealthyRetryPolicy": {"numRetries": 7, "minDelayTarget": 2,
                                          "maxDelayTarget": 4},
            "defaultThrottlePolicy": {"maxReceivesPerSecond": 3},
            "defaultRequestPolicy": {"headerContentType": "application/json"},
        }
    }  # fmt: skip
    assert policy_error(topic_policy) is None
    parsed = parse_policy(topic_policy)
    assert (parsed.num_retries, parsed.min_delay, parsed.max_delay) == (7, 2, 4)
    assert parsed.max_per_second == 3
    delivery = HttpDelivery(tmp_path / "out.sqlite", signer, Targets(), endpoint_url=FIRESIDE)
    delivery.enqueue([notification(endpoint.url, delivery_policy=topic_policy)])

    async def scenario() -> None:
        await arrived(endpoint, 1)

    running(delivery, scenario)
    assert endpoint.requests[0].headers["content-type"] == "application/json"


def test_https_verification_is_on_unless_turned_off(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path, environ={}).sns_https_verify
    for off in ("off", "0", "false", "no"):
        env = {"FIRESIDE_SNS_HTTPS_VERIFY": off}
        assert not load_settings(data_dir=tmp_path, environ=env).sns_https_verify
    env = {"FIRESIDE_SNS_HTTPS_VERIFY": "on"}
    assert load_settings(data_dir=tmp_path, environ=env).sns_https_verify


def test_the_client_passes_over_100_continue_and_bounds_the_wait() -> None:
    """`post` reads the final status after an interim `100 Continue`, gives up on a silent
    endpoint at its deadline, and refuses a response head without end."""

    async def scenario() -> None:
        finished: list[str] = []

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(1)  # the body, b"x"
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()
            writer.close()
            finished.append("answer")

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.read(1 << 16):  # until the client gives up and hangs up
                pass
            writer.close()
            finished.append("silent")

        async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1 << 16)
            writer.write(b"HTTP/1.1 200 OK\r\n")
            with contextlib.suppress(ConnectionError):
                for _ in range(200):
                    writer.write(b"X-Filler: " + b"a" * 1000 + b"\r\n")
                    await writer.drain()
            writer.close()
            finished.append("endless")

        servers = [await asyncio.start_server(h, "127.0.0.1", 0) for h in (answer, silent, endless)]
        urls = [f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}/" for s in servers]
        try:
            assert await post(urls[0], [], b"x", timeout=5) == 204
            started = time.monotonic()
            with pytest.raises(PostError, match="no response within"):
                await post(urls[1], [], b"x", timeout=0.3)
            assert time.monotonic() - started < 0.9
            with pytest.raises(PostError, match="response head over"):
                await post(urls[2], [], b"x", timeout=5)
            await until(lambda: len(finished) == 3, timeout=10)
        finally:
            for server in servers:
                server.close()
                await server.wait_closed()

    asyncio.run(scenario())
