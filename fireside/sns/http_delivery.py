"""Delivery of SNS messages to HTTP/S subscriptions: a durable outbox and the loop that empties it.

Publish (and Subscribe, for the confirmation) hands `enqueue` the messages for a topic's
http/https subscriptions; they are committed (SQLite WAL, fsync) before `enqueue` returns,
so a message Publish acknowledged survives a `kill -9` and is posted after the restart. The
`run` loop posts each due message as AWS does (headers `x-amz-sns-message-type`,
`-message-id`, `-topic-arn`, `-subscription-arn`, `-rawdelivery`; User-Agent `Amazon Simple
Notification Service Agent`; the JSON document signed by `Signer`, or the bare message for
raw delivery), with at most `concurrency` POSTs in flight, and deletes the row only after
the endpoint has answered (the rows of every delivery that ended meanwhile in one commit):
delivery is at least once, as on AWS (endpoints deduplicate by `x-amz-sns-message-id`).

What an answer means follows AWS's documentation ("Make sure your endpoint is ready"): no
answer within 15 s, a failed connection or a status outside 200-4xx is a failed attempt,
retried under the message's delivery policy (`fireside.sns.delivery_policy`); any status in
200-499 ends the delivery (a 3xx or 4xx is counted as `rejected` and logged, and redirects
are not followed). When the retries run out a notification goes to the subscription's
dead-letter queue through `Targets` as `sns.amazonaws.com` acting for the topic (the
queue's policy must allow it), or is dropped and counted (`stats()["failed"]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fireside.sns.delivery_policy import RetryPolicy, parse_policy
from fireside.sns.http_post import PostError, post
from fireside.sns.signing import Signer
from fireside.store.database import open_durable, write_transaction
from fireside.supervisor import TaskSet
from fireside.targets import Accepted, Delivery, Sender, Targets

__all__ = ["HttpDelivery", "HttpMessage"]

log = logging.getLogger(__name__)

USER_AGENT = "Amazon Simple Notification Service Agent"
#: AWS: "The connection will time out in 15 seconds."
TIMEOUT = 15.0
#: A dead-letter queue that cannot take a message now (a full disk): tried again after this.
DLQ_RETRY = 20.0
_BATCH = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS http_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message    TEXT NOT NULL,          -- JSON of HttpMessage
    attempts   INTEGER NOT NULL,       -- failed attempts so far
    not_before REAL NOT NULL           -- epoch seconds: due then
);
CREATE INDEX IF NOT EXISTS http_outbox_due ON http_outbox (not_before);
"""


@dataclass(frozen=True, slots=True)
class HttpMessage:
    endpoint: str
    message_type: str
    fields: dict[str, str]
    topic_arn: str
    subscription_arn: str | None = None
    raw: bool = False
    signature_version: str = "1"
    delivery_policy: dict[str, Any] | None = None
    dead_letter_arn: str | None = None


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    message: HttpMessage
    attempts: int


class HttpDelivery:
    def __init__(
        self,
        path: Path,
        signer: Signer,
        targets: Targets,
        *,
        endpoint_url: str = "",
        concurrency: int = 32,
        timeout: float = TIMEOUT,
        verify_tls: bool = True,
    ) -> None:
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
        self._signer = signer
        self._targets = targets
        #: Fireside's endpoint, for `SigningCertURL` (set once the server listens).
        self.endpoint_url = endpoint_url
        self._concurrency = concurrency
        self._timeout = timeout
        self._tls = ssl.create_default_context()
        if not verify_tls:
            self._tls.check_hostname = False
            self._tls.verify_mode = ssl.CERT_NONE
        self._wake: asyncio.Event | None = None
        self._in_flight: set[int] = set()
        #: Throttled subscriptions: when each may next be posted to (not durable).
        self._next_slot: dict[str, float] = {}
        self._reserved: dict[int, float] = {}  # row id -> the slot it was moved to
        #: Rows finished (delivered, dead-lettered or dropped) but not yet deleted: deleted
        #: together, one commit for all the deliveries that ended meanwhile.
        self._done: set[int] = set()
        self._counts = dict.fromkeys(
            ("delivered", "rejected", "retried", "dead_lettered", "failed"), 0
        )

    # -- the producer's side ------------------------------------------------------------------
    def enqueue(self, messages: Sequence[HttpMessage]) -> None:
        """Queue `messages` for delivery, all in one transaction: on disk when this returns."""
        if not messages:
            return
        now = time.time()
        rows = [(json.dumps(asdict(message)), now) for message in messages]
        with write_transaction(self._conn) as conn:
            conn.executemany(
                "INSERT INTO http_outbox (message, attempts, not_before) VALUES (?, 0, ?)", rows
            )
        if self._wake is not None:
            self._wake.set()

    def pending(self) -> int:
        (count,) = self._conn.execute("SELECT COUNT(*) FROM http_outbox").fetchone()
        return int(count)

    def stats(self) -> dict[str, int]:
        """Counts since the server started, and the messages waiting now (for health)."""
        return {**self._counts, "pending": self.pending()}

    def close(self) -> None:
        self._conn.close()

    # -- the loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Deliver forever (cancel to stop; undelivered messages stay on disk)."""
        wake = self._wake = asyncio.Event()
        limit = asyncio.Semaphore(self._concurrency)
        tasks = TaskSet("sns-http")
        self._in_flight.clear()
        try:
            while True:
                wake.clear()
                self._flush()
                due, next_at = self._due(time.time())
                for row in due:
                    await limit.acquire()
                    self._in_flight.add(row.id)
                    tasks.spawn(self._deliver(row, limit), f"sns-http {row.id}")
                timeout = None if next_at is None else max(0.0, next_at - time.time())
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                # lands as the event fires, and the loop would not stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await wake.wait()
        finally:
            await tasks.close()
            self._flush()

    def _due(self, now: float) -> tuple[list[_Row], float | None]:
        """Rows due now (not in flight, within their subscription's throttle), and when the
        next one falls due. A throttled row gets a slot of its subscription's rate and is
        moved to it on disk, so a long throttled backlog never hides other rows."""
        rows = self._conn.execute(
            "SELECT id, message, attempts, not_before FROM http_outbox ORDER BY not_before LIMIT ?",
            (_BATCH,),
        ).fetchall()
        due: list[_Row] = []
        deferred: list[tuple[float, int]] = []
        next_at: float | None = None
        for row_id, text, attempts, not_before in rows:
            if row_id in self._in_flight or row_id in self._done:
                continue
            at = float(not_before)
            if at <= now:
                message = _load(text)
                if message is None:  # unreadable: nothing could ever deliver it
                    self._delete(row_id)
                    continue
                at = self._slot(row_id, message, now)
                if at <= now:
                    due.append(_Row(row_id, message, int(attempts)))
                    continue
                deferred.append((at, row_id))
            if next_at is None or at < next_at:
                next_at = at
        if deferred:
            with write_transaction(self._conn) as conn:
                conn.executemany("UPDATE http_outbox SET not_before = ? WHERE id = ?", deferred)
        return due, next_at

    def _slot(self, row_id: int, message: HttpMessage, now: float) -> float:
        """When `message` may be posted under its `maxReceivesPerSecond`: now, or the slot
        it was given before, or the next free slot of its subscription."""
        reserved = self._reserved.pop(row_id, None)
        if reserved is not None:
            return now
        rate = parse_policy(message.delivery_policy).max_per_second
        if rate is None:
            return now
        key = message.subscription_arn or message.endpoint
        slot = max(self._next_slot.get(key, now), now)
        self._next_slot[key] = slot + 1.0 / rate
        if slot > now:
            self._reserved[row_id] = slot
        return slot

    # -- one message --------------------------------------------------------------------------
    async def _deliver(self, row: _Row, limit: asyncio.Semaphore) -> None:
        try:
            await self._attempt(row)
        except Exception:  # the loop must outlive any one message: keep it for later
            log.exception("SNS HTTP delivery of row %d failed", row.id)
            with contextlib.suppress(Exception):
                self._reschedule(row.id, row.attempts, DLQ_RETRY)
        finally:
            self._in_flight.discard(row.id)
            limit.release()
            if self._wake is not None:
                self._wake.set()

    async def _attempt(self, row: _Row) -> None:
        message = row.message
        policy = parse_policy(message.delivery_policy)
        headers, body = self.request(message, policy)
        try:
            status = await post(
                message.endpoint, headers, body, timeout=self._timeout, tls=self._tls
            )
        except PostError as exc:
            reason = str(exc)
        else:
            if 200 <= status < 300:
                self._counts["delivered"] += 1
                self._done.add(row.id)
                return
            if status < 500:  # AWS counts 200-4xx as answered: not retried
                log.warning(
                    "SNS: %s answered %d to %s %s: not retried",
                    message.endpoint,
                    status,
                    message.message_type,
                    message.fields.get("MessageId"),
                )
                self._counts["rejected"] += 1
                self._done.add(row.id)
                return
            reason = f"HTTP {status}"
        attempts = row.attempts + 1
        if attempts <= policy.num_retries:
            self._counts["retried"] += 1
            self._reschedule(row.id, attempts, policy.delay(attempts))
            return
        self._exhausted(row, body, reason)

    def request(
        self, message: HttpMessage, policy: RetryPolicy
    ) -> tuple[list[tuple[str, str]], bytes]:
        """The headers and body AWS sends for `message`."""
        fields = message.fields
        headers = [
            ("x-amz-sns-message-type", message.message_type),
            ("x-amz-sns-message-id", str(fields.get("MessageId", ""))),
            ("x-amz-sns-topic-arn", message.topic_arn),
        ]
        if message.subscription_arn is not None:
            headers.append(("x-amz-sns-subscription-arn", message.subscription_arn))
        if message.raw:
            headers.append(("x-amz-sns-rawdelivery", "true"))
        headers += [
            ("Content-Type", policy.content_type),
            ("User-Agent", USER_AGENT),
            ("Accept-Encoding", "gzip,deflate"),
        ]
        headers = [(name, _header_value(value)) for name, value in headers]
        if message.raw:
            return headers, str(fields.get("Message", "")).encode()
        return headers, self.document(message).encode()

    def document(self, message: HttpMessage) -> str:
        """The signed JSON document, its keys in AWS's order (the signature's after
        `Timestamp`), formatted as AWS formats it."""
        region = message.topic_arn.split(":")[3] if message.topic_arn.count(":") >= 5 else ""
        signed = self._signer.sign(
            message.fields, message.signature_version, self.endpoint_url, region
        )
        extra = {key: signed[key] for key in ("SignatureVersion", "Signature", "SigningCertURL")}
        ordered: dict[str, Any] = {}
        for key, value in message.fields.items():
            ordered[key] = value
            if key == "Timestamp":
                ordered.update(extra)
        ordered.update(extra)  # no Timestamp: at the end (already placed: unchanged)
        return json.dumps(ordered, indent=2, separators=(",", " : "), ensure_ascii=False)

    def _exhausted(self, row: _Row, body: bytes, reason: str) -> None:
        message = row.message
        # Dead-letter queues hold undeliverable notifications, not confirmations.
        arn = message.dead_letter_arn if message.message_type == "Notification" else None
        if arn is None:
            log.warning(
                "SNS: %s %s to %s failed after %d attempt(s) (%s); dropped",
                message.message_type,
                message.fields.get("MessageId"),
                message.endpoint,
                row.attempts + 1,
                reason,
            )
            self._counts["failed"] += 1
            self._done.add(row.id)
            return
        parts = message.topic_arn.split(":")
        account, region = (parts[4], parts[3]) if len(parts) >= 6 else ("", "")
        sender = Sender(account, region, "sns.amazonaws.com", message.topic_arn)
        outcome = self._targets.send(Delivery(sender, arn, body.decode()))
        if isinstance(outcome, Accepted):
            self._counts["dead_lettered"] += 1
            self._done.add(row.id)
        elif outcome.retriable:
            self._reschedule(row.id, row.attempts, DLQ_RETRY)
        else:
            log.warning(
                "SNS: %s %s to %s failed (%s) and its dead-letter queue %s refused it (%s: %s)",
                message.message_type,
                message.fields.get("MessageId"),
                message.endpoint,
                reason,
                arn,
                outcome.code,
                outcome.reason,
            )
            self._counts["failed"] += 1
            self._done.add(row.id)

    # -- durable state changes -----------------------------------------------------------------
    def _flush(self) -> None:
        """Delete the finished rows. A crash before this re-delivers them (at least once)."""
        if not self._done:
            return
        done = list(self._done)
        with write_transaction(self._conn) as conn:
            conn.executemany("DELETE FROM http_outbox WHERE id = ?", [(row_id,) for row_id in done])
        self._done.difference_update(done)

    def _delete(self, row_id: int) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM http_outbox WHERE id = ?", (row_id,))

    def _reschedule(self, row_id: int, attempts: int, delay: float) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "UPDATE http_outbox SET attempts = ?, not_before = ? WHERE id = ?",
                (attempts, time.time() + delay, row_id),
            )


def _load(text: str) -> HttpMessage | None:
    try:
        return HttpMessage(**json.loads(text))
    except (ValueError, TypeError):
        log.exception("SNS: an unreadable row in the HTTP outbox")
        return None


def _header_value(value: str) -> str:
    """A header value cannot carry a line break (it would split the request)."""
    return value.replace("\r", " ").replace("\n", " ")
