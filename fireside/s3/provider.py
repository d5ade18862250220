"""The S3 provider: one method per operation, the wire protocol that carries them, and the
operation table the edge routes to.

Every operation in S3's model is in the table: the implemented ones call the bucket, object
and listing modules; every other one answers S3's `NotImplemented` (501) naming itself, so a
client never mistakes a missing feature for a success.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.model import load_service
from fireside.aws.protocol import WireProtocol
from fireside.aws.restxml import RestXmlProtocol
from fireside.outbox import Outbox
from fireside.s3.bucket_config import BucketConfig
from fireside.s3.buckets import Buckets
from fireside.s3.encryption import Encryption
from fireside.s3.errors import in_s3_terms, not_implemented
from fireside.s3.listing import Listing
from fireside.s3.multipart import Multipart
from fireside.s3.notifications import Notifications
from fireside.s3.object_versions import Deletes
from fireside.s3.objects import Objects
from fireside.s3.policy import BucketPolicies
from fireside.s3.store import S3Store
from fireside.s3.upload_listing import UploadListing
from fireside.targets import Targets

__all__ = ["S3Provider", "s3_protocol"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
#: The root element of each response document, as S3 names it (the model does not).
_ROOTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "GetBucketLocation": "LocationConstraint",
    "GetBucketTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "DeleteObjects": "DeleteResult",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "GetBucketAcl": "AccessControlPolicy",
    "GetObjectAcl": "AccessControlPolicy",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetBucketReplication": "ReplicationConfiguration",
}


def s3_protocol() -> WireProtocol:
    return RestXmlProtocol(
        load_service("s3"),
        namespace=NAMESPACE,
        root_names=_ROOTS,
        model_constraints=False,
        error_filter=in_s3_terms,
    )


class S3Provider:
    def __init__(self, store: S3Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.buckets = Buckets(store, clock)
        self.objects = Objects(store, self.buckets, clock)
        self.listing = Listing(store, self.buckets)
        self.deletes = Deletes(self.objects)
        self.multipart = Multipart(store, self.buckets, self.objects, clock)
        self.upload_listing = UploadListing(self.buckets, self.multipart.uploads)
        self.config = BucketConfig(store, self.buckets)
        self.encryption = Encryption(store, self.buckets)
        self.policies = BucketPolicies(store, self.buckets)
        self.notifications: Notifications | None = None

    @classmethod
    def open(cls, root: Path) -> S3Provider:
        store = S3Store(root)
        store.sweep()
        return cls(store)

    def attach_notifications(self, outbox: Outbox, targets: Targets) -> Outbox:
        """Turn on event notifications, queued in `outbox` (over this store) and sent
        through `targets`; returns the outbox, whose `run` the server supervises."""
        self.notifications = Notifications(self.store, self.buckets, outbox, targets)
        self.objects.notifications = self.notifications
        return outbox

    def operations(self) -> dict[str, Operation]:
        buckets, objects, listing = self.buckets, self.objects, self.listing
        implemented: dict[str, Operation] = {
            "CreateBucket": buckets.create_bucket,
            "HeadBucket": buckets.head_bucket,
            "DeleteBucket": buckets.delete_bucket,
            "ListBuckets": buckets.list_buckets,
            "GetBucketLocation": buckets.get_bucket_location,
            "PutBucketTagging": buckets.put_bucket_tagging,
            "GetBucketTagging": buckets.get_bucket_tagging,
            "DeleteBucketTagging": buckets.delete_bucket_tagging,
            "GetObjectLockConfiguration": buckets.get_object_lock_configuration,
            "PutObject": objects.put_object,
            "GetObject": objects.get_object,
            "HeadObject": objects.head_object,
            "DeleteObject": self.deletes.delete_object,
            "DeleteObjects": self.deletes.delete_objects,
            "CopyObject": objects.copy_object,
            "ListObjects": listing.list_objects,
            "ListObjectsV2": listing.list_objects_v2,
            "ListObjectVersions": listing.list_object_versions,
            **self._configuration_operations(),
        }
        if self.notifications is not None:
            implemented["PutBucketNotificationConfiguration"] = (
                self.notifications.put_bucket_notification_configuration
            )
            implemented["GetBucketNotificationConfiguration"] = (
                self.notifications.get_bucket_notification_configuration
            )
        table = {name: _missing(name) for name in load_service("s3").operation_names}
        table.update(implemented)
        return table

    def _configuration_operations(self) -> dict[str, Operation]:
        multipart, config = self.multipart, self.config
        encryption, policies = self.encryption, self.policies
        return {
            "CreateMultipartUpload": multipart.create_multipart_upload,
            "UploadPart": multipart.upload_part,
            "UploadPartCopy": multipart.upload_part_copy,
            "CompleteMultipartUpload": multipart.complete_multipart_upload,
            "AbortMultipartUpload": multipart.abort_multipart_upload,
            "ListParts": self.upload_listing.list_parts,
            "ListMultipartUploads": self.upload_listing.list_multipart_uploads,
            "GetBucketVersioning": config.get_bucket_versioning,
            "PutBucketVersioning": config.put_bucket_versioning,
            "GetPublicAccessBlock": config.get_public_access_block,
            "PutPublicAccessBlock": config.put_public_access_block,
            "DeletePublicAccessBlock": config.delete_public_access_block,
            "GetBucketOwnershipControls": config.get_bucket_ownership_controls,
            "PutBucketOwnershipControls": config.put_bucket_ownership_controls,
            "DeleteBucketOwnershipControls": config.delete_bucket_ownership_controls,
            "GetBucketLifecycleConfiguration": config.get_bucket_lifecycle_configuration,
            "PutBucketLifecycleConfiguration": config.put_bucket_lifecycle_configuration,
            "DeleteBucketLifecycle": config.delete_bucket_lifecycle,
            "GetBucketCors": config.get_bucket_cors,
            "PutBucketCors": config.put_bucket_cors,
            "DeleteBucketCors": config.delete_bucket_cors,
            "GetBucketAcl": config.get_bucket_acl,
            "GetObjectAcl": config.get_object_acl,
            "GetBucketWebsite": config.get_bucket_website,
            "GetBucketReplication": config.get_bucket_replication,
            "GetBucketAccelerateConfiguration": config.get_bucket_accelerate_configuration,
            "GetBucketRequestPayment": config.get_bucket_request_payment,
            "GetBucketLogging": config.get_bucket_logging,
            "GetBucketEncryption": encryption.get_bucket_encryption,
            "PutBucketEncryption": encryption.put_bucket_encryption,
            "DeleteBucketEncryption": encryption.delete_bucket_encryption,
            "GetBucketPolicy": policies.get_bucket_policy,
            "PutBucketPolicy": policies.put_bucket_policy,
            "DeleteBucketPolicy": policies.delete_bucket_policy,
        }

    def close(self) -> None:
        self.store.close()


def _missing(name: str) -> Operation:
    async def call(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        raise not_implemented(f"the S3 operation {name}")

    return call
