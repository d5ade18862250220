"""S3 event notifications: a bucket's NotificationConfiguration, and the events its object
changes send to Lambda functions, SQS queues, SNS topics and EventBridge.

A configuration (Put/GetBucketNotificationConfiguration) lists Lambda, queue and topic
configurations, each with an `Id`, its target ARN, event types (`s3:ObjectCreated:*`,
`s3:ObjectRemoved:Delete`, ...) and prefix/suffix key filters, and may turn on EventBridge
delivery. It is checked as S3 checks it: known event types, at most one prefix and one
suffix rule, no two configurations sharing an event type over overlapping keys, targets in
the bucket's region, and (unless SkipDestinationValidation) each target must take S3's
notifications: queues and topics get the `s3:TestEvent` message, functions are asked
whether their resource policy lets `s3.amazonaws.com` invoke them for this bucket.

An object written or removed queues one delivery per matching configuration in the S3
store's outbox, in the transaction that commits the change (`S3Store.put`/`delete`'s
`notify`), so the event is sent at least once even across a `kill -9`; the outbox hands it
to `fireside.targets`, where S3 acts as `s3.amazonaws.com` for the bucket (the target's
resource policy decides) and EventBridge delivery acts as the bucket's account on its
default bus.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote_plus

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.outbox import Outbox
from fireside.s3.buckets import Buckets
from fireside.s3.store import BucketRecord, ObjectRecord, S3Store
from fireside.s3.versions import VERSION
from fireside.targets import Accepted, Delivery, Sender, Targets, service_of

__all__ = ["Change", "Notifications", "check_configuration"]

S3_PRINCIPAL: Final = "s3.amazonaws.com"
_KINDS: Final = (
    ("LambdaFunctionConfigurations", "LambdaFunctionArn", "lambda"),
    ("QueueConfigurations", "QueueArn", "sqs"),
    ("TopicConfigurations", "TopicArn", "sns"),
)
_EVENTS: Final = frozenset(
    {
        "s3:ObjectCreated:*",
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
        "s3:ObjectRemoved:*",
        "s3:ObjectRemoved:Delete",
        "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectRestore:*",
        "s3:ObjectRestore:Post",
        "s3:ObjectRestore:Completed",
        "s3:ObjectRestore:Delete",
        "s3:ReducedRedundancyLostObject",
        "s3:Replication:*",
        "s3:Replication:OperationFailedReplication",
        "s3:Replication:OperationNotTracked",
        "s3:Replication:OperationMissedThreshold",
        "s3:Replication:OperationReplicatedAfterThreshold",
        "s3:ObjectTagging:*",
        "s3:ObjectTagging:Put",
        "s3:ObjectTagging:Delete",
        "s3:ObjectAcl:Put",
        "s3:LifecycleExpiration:*",
        "s3:LifecycleExpiration:Delete",
        "s3:LifecycleExpiration:DeleteMarkerCreated",
        "s3:LifecycleTransition",
        "s3:IntelligentTiering",
    }
)
#: How many configurations one bucket may hold (S3's quota).
MAX_CONFIGURATIONS = 1000


def _invalid(message: str, **fields: Any) -> ServiceError:
    return ServiceError("InvalidArgument", message, 400, **fields)


def _covers(configured: str, event: str) -> bool:
    """Whether a configured type (`s3:ObjectCreated:*`) covers `event` (`ObjectCreated:Put`)."""
    if configured.endswith(":*"):
        return f"s3:{event}".startswith(configured[:-1])
    return configured == f"s3:{event}"


def _concrete(events: tuple[str, ...]) -> frozenset[str]:
    """The event types a configuration's list covers, wildcards spelled out: two lists share
    a type exactly when these sets meet."""
    found: set[str] = set()
    for event in events:
        if event.endswith(":*"):
            found.update(e for e in _EVENTS if e.startswith(event[:-1]) and not e.endswith("*"))
        else:
            found.add(event)
    return frozenset(found)


def _rules(entry: dict[str, Any]) -> tuple[str, str]:
    """An entry's prefix and suffix filter ("" when absent), checked as S3 checks them."""
    rules = ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    found: dict[str, str] = {}
    for rule in rules:
        name = str(rule.get("Name", "")).lower()
        if name not in ("prefix", "suffix"):
            raise _invalid(
                "filter rule name must be either prefix or suffix",
                ArgumentName="FilterRule.Name",
                ArgumentValue=str(rule.get("Name")),
            )
        if name in found:
            raise _invalid(
                f"Cannot specify more than one {name} rule in a filter.",
                ArgumentName="FilterRule.Name",
                ArgumentValue=name,
            )
        found[name] = str(rule.get("Value", ""))
    return found.get("prefix", ""), found.get("suffix", "")


@dataclass(frozen=True, slots=True)
class _Rule:
    id: str
    kind: str
    arn: str
    events: tuple[str, ...]
    prefix: str
    suffix: str

    def matches(self, event: str, key: str) -> bool:
        return (
            any(_covers(t, event) for t in self.events)
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )


def _parsed(config: dict[str, Any]) -> list[_Rule]:
    rules = []
    for field, arn_field, kind in _KINDS:
        for entry in config.get(field) or []:
            prefix, suffix = _rules(entry)
            rules.append(
                _Rule(
                    str(entry.get("Id", "")),
                    kind,
                    str(entry.get(arn_field, "")),
                    tuple(entry.get("Events") or ()),
                    prefix,
                    suffix,
                )
            )
    return rules


def check_configuration(config: dict[str, Any], bucket: BucketRecord) -> dict[str, Any]:
    """The configuration to store (an `Id` given to each entry that lacks one), or S3's
    InvalidArgument. Destinations are validated separately (`Notifications.validate`)."""
    count = sum(len(config.get(field) or []) for field, _, _ in _KINDS)
    if count > MAX_CONFIGURATIONS:  # before any work that grows with their number
        raise _invalid(
            f"A bucket may have at most {MAX_CONFIGURATIONS} notification configurations."
        )
    stored: dict[str, Any] = {}
    for field, arn_field, kind in _KINDS:
        entries = []
        for entry in config.get(field) or []:
            arn = str(entry.get(arn_field, ""))
            parts = arn.split(":")
            if len(parts) < 6 or service_of(arn) != kind:
                raise _invalid(
                    "The ARN is not well formed", ArgumentName=arn_field, ArgumentValue=arn
                )
            if parts[3] != bucket.region:
                raise _invalid(
                    "The notification destination service region is not valid for the bucket "
                    "location constraint",
                    ArgumentName=arn_field,
                    ArgumentValue=arn,
                )
            events = list(entry.get("Events") or [])
            if not events:
                raise _invalid(
                    "At least one event must be specified", ArgumentName="Event", ArgumentValue=""
                )
            for event in events:
                if event not in _EVENTS:
                    raise _invalid(
                        "The event is not supported for notifications",
                        ArgumentName="Event",
                        ArgumentValue=event,
                    )
            prefix, suffix = _rules(entry)
            kept = {**entry, "Id": entry.get("Id") or str(uuid.uuid4()), "Events": events}
            if prefix or suffix:
                kept["Filter"] = {
                    "Key": {
                        "FilterRules": [
                            *([{"Name": "Prefix", "Value": prefix}] if prefix else []),
                            *([{"Name": "Suffix", "Value": suffix}] if suffix else []),
                        ]
                    }
                }
            else:
                kept.pop("Filter", None)
            entries.append(kept)
        if entries:
            stored[field] = entries
    rules = _parsed(stored)
    covered = [_concrete(rule.events) for rule in rules]
    for index, a in enumerate(rules):
        for offset, b in enumerate(rules[index + 1 :], start=index + 1):
            shares = not covered[index].isdisjoint(covered[offset])
            keys_meet = (a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)) and (
                a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)
            )
            if shares and keys_meet:
                raise _invalid(
                    "Configurations overlap. Configurations on the same bucket cannot share a "
                    "common event type.",
                    ArgumentName="Event",
                    ArgumentValue=a.events[0],
                )
    if config.get("EventBridgeConfiguration") is not None:
        stored["EventBridgeConfiguration"] = {}
    return stored


def _iso(seconds: float) -> str:
    when = datetime.fromtimestamp(seconds, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to an object, for its notifications."""

    event: str  # ObjectCreated:Put|Copy|CompleteMultipartUpload, ObjectRemoved:Delete
    key: str
    request_id: str
    principal: str


class Notifications:
    def __init__(self, store: S3Store, buckets: Buckets, outbox: Outbox, targets: Targets) -> None:
        self._store = store
        self._buckets = buckets
        self._outbox = outbox
        self._targets = targets

    # -- the operations ------------------------------------------------------------------------
    async def put_bucket_notification_configuration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        # Off the event loop: the overlap check compares every pair of configurations.
        config = await asyncio.to_thread(
            check_configuration, params.get("NotificationConfiguration") or {}, bucket
        )
        if not params.get("SkipDestinationValidation"):
            self.validate(bucket, config, ctx.request_id)
        await asyncio.to_thread(self._store.set_notification, bucket.name, config or None)
        self._outbox.wake()  # the test events, if any
        return {}

    async def get_bucket_notification_configuration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = self._buckets.require(ctx, params["Bucket"])
        return self._store.notification(bucket.name) or {}

    def change(
        self, ctx: RequestContext, bucket: BucketRecord, event: str, key: str
    ) -> Callable[[sqlite3.Connection, ObjectRecord | None], None] | None:
        """The `notify` hook for a change of `key` by the request `ctx` (None: nothing to
        notify); call `wake` once the change is committed."""
        principal = f"AWS:{ctx.access_key_id or ctx.account_id}"
        return self.hook(
            bucket,
            self._store.notification(bucket.name),
            Change(event, key, ctx.request_id, principal),
        )

    def validate(self, bucket: BucketRecord, config: dict[str, Any], request_id: str) -> None:
        """Each target must take S3's notifications for this bucket (S3's test)."""
        sender = Sender(bucket.account, bucket.region, S3_PRINCIPAL, f"arn:aws:s3:::{bucket.name}")
        test = json.dumps(
            {
                "Service": "Amazon S3",
                "Event": "s3:TestEvent",
                "Time": _iso(time.time()),
                "Bucket": bucket.name,
                "RequestId": request_id,
                "HostId": request_id,
            }
        )
        rules = _parsed(config)
        deliveries = [
            Delivery(
                sender,
                rule.arn,
                test,
                subject="Amazon S3 Notification" if rule.kind == "sns" else None,
                # a function is only asked (S3 sends functions no test event)
                extra={"dry_run": True} if rule.kind == "lambda" else {},
            )
            for rule in rules
        ]
        failed: dict[str, str] = {}
        for rule, outcome in zip(rules, self._targets.send_many(deliveries), strict=True):
            if not isinstance(outcome, Accepted):
                failed[rule.arn] = {
                    "lambda": f"Not authorized to invoke function [{rule.arn}]",
                    "sqs": "Permissions on the destination queue do not allow S3 to publish "
                    "notifications from this bucket",
                    "sns": "Permissions on the destination topic do not allow S3 to publish "
                    "notifications from this bucket",
                }[rule.kind]
        if failed:
            fields: dict[str, str] = {}
            for n, (arn, why) in enumerate(failed.items(), start=1):
                fields[f"ArgumentName{n}"] = arn
                fields[f"ArgumentValue{n}"] = why
            raise _invalid("Unable to validate the following destination configurations", **fields)

    def hook(
        self, bucket: BucketRecord, config: dict[str, Any] | None, change: Change
    ) -> Callable[[sqlite3.Connection, ObjectRecord | None], None] | None:
        """The `notify` for `S3Store.put`/`delete` (None: nothing to notify)."""
        if not config:
            return None
        rules = [r for r in _parsed(config) if r.matches(change.event, change.key)]
        to_bus = "EventBridgeConfiguration" in config
        if not rules and not to_bus:
            return None

        def notify(conn: sqlite3.Connection, record: ObjectRecord | None) -> None:
            now = time.time()
            sequencer = f"{time.time_ns():016X}"
            for rule in rules:
                Outbox.insert(conn, self._delivery(bucket, rule, change, record, now, sequencer))
            if to_bus:
                Outbox.insert(conn, _bus_delivery(bucket, change, record, now, sequencer))

        return notify

    def wake(self) -> None:
        self._outbox.wake()

    @staticmethod
    def _delivery(
        bucket: BucketRecord,
        rule: _Rule,
        change: Change,
        record: ObjectRecord | None,
        now: float,
        sequencer: str,
    ) -> Delivery:
        s3_object: dict[str, Any] = {"key": quote_plus(change.key, safe="/")}
        if record is not None:
            s3_object.update({"size": record.size, "eTag": record.etag.strip('"')})
            if record.headers.get(VERSION) is not None:
                s3_object["versionId"] = record.headers[VERSION]
        s3_object["sequencer"] = sequencer
        event = {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": bucket.region,
                    "eventTime": _iso(now),
                    "eventName": change.event,
                    "userIdentity": {"principalId": change.principal},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {
                        "x-amz-request-id": change.request_id,
                        "x-amz-id-2": change.request_id,
                    },
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": rule.id,
                        "bucket": {
                            "name": bucket.name,
                            "ownerIdentity": {"principalId": bucket.account},
                            "arn": f"arn:aws:s3:::{bucket.name}",
                        },
                        "object": s3_object,
                    },
                }
            ]
        }
        return Delivery(
            Sender(bucket.account, bucket.region, S3_PRINCIPAL, f"arn:aws:s3:::{bucket.name}"),
            rule.arn,
            json.dumps(event),
            subject="Amazon S3 Notification" if rule.kind == "sns" else None,
        )


def _bus_delivery(
    bucket: BucketRecord, change: Change, record: ObjectRecord | None, now: float, sequencer: str
) -> Delivery:
    """The event EventBridge gets on the account's default bus (`aws.s3`)."""
    created = change.event.startswith("ObjectCreated")
    s3_object: dict[str, Any] = {"key": change.key}
    if record is not None:
        s3_object.update({"size": record.size, "etag": record.etag.strip('"')})
        if record.headers.get(VERSION) is not None:
            s3_object["version-id"] = record.headers[VERSION]
    s3_object["sequencer"] = sequencer
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": s3_object,
        "request-id": change.request_id,
        "requester": bucket.account,
        "source-ip-address": "127.0.0.1",
        "reason": {
            "ObjectCreated:Put": "PutObject",
            "ObjectCreated:Copy": "CopyObject",
            "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
        }.get(change.event, "DeleteObject"),
    }
    if not created:
        detail["deletion-type"] = (
            "Delete Marker Created"
            if change.event == "ObjectRemoved:DeleteMarkerCreated"
            else "Permanently Deleted"
        )
    bucket_arn = f"arn:aws:s3:::{bucket.name}"
    return Delivery(
        Sender(bucket.account, bucket.region, None, bucket_arn),
        f"arn:aws:events:{bucket.region}:{bucket.account}:event-bus/default",
        json.dumps(detail),
        extra={
            "Source": "aws.s3",
            "DetailType": "Object Created" if created else "Object Deleted",
            "Resources": [bucket_arn],
            "Time": _iso(now),
        },
    )
