"""S3 as a target of other services (`fireside.targets`): an object written into a bucket on
an account's behalf (Lambda's OnFailure records for S3 destinations).

The sender acts through its own role (`Sender.service` None), and the bucket must be its
account's: `StoredObjects.put_object_as` answers NoSuchBucket or AccessDenied otherwise,
final refusals (the record is lost, as a failed delivery is on AWS). The object's key and
content type come with the delivery (`extra["key"]`, `extra["content_type"]`): a key chosen
when the delivery was queued makes a repeated delivery overwrite, never add.
"""

from __future__ import annotations

from collections.abc import Sequence

from fireside.aws.errors import ServiceError
from fireside.s3.access import StoredObjects
from fireside.targets import Accepted, Delivery, Outcome, Refused

__all__ = ["BucketTargets"]


class BucketTargets:
    """The S3 handler registered with `fireside.targets.Targets` under `s3`."""

    def __init__(self, objects: StoredObjects) -> None:
        self._objects = objects

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return [self._accept(delivery) for delivery in deliveries]

    def _accept(self, delivery: Delivery) -> Outcome:
        parts = delivery.arn.split(":", 5)
        key = delivery.extra.get("key")
        if len(parts) != 6 or parts[3:5] != ["", ""] or not parts[5] or "/" in parts[5]:
            return Refused("InvalidParameter", f"{delivery.arn} is not a bucket ARN.")
        if not isinstance(key, str) or not key:
            return Refused("InvalidParameter", "an S3 delivery needs the object's key")
        if delivery.sender.service is not None:
            return Refused(
                "AccessDenied", f"{delivery.sender.service} may not write to {delivery.arn}"
            )
        bucket = parts[5]
        try:
            self._objects.put_object_as(
                delivery.sender.account,
                bucket,
                key,
                delivery.body.encode("utf-8"),
                str(delivery.extra.get("content_type", "application/octet-stream")),
            )
        except ServiceError as error:
            return Refused(error.code, error.message, retriable=error.status >= 500)
        return Accepted(f"s3://{bucket}/{key}")
