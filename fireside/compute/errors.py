"""The Lambda service's recurring errors, worded as AWS words them, made in one place."""

from __future__ import annotations

from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.store.blobs import ArchiveError, ArchiveTooLarge

#: Errors the model declares, with its status and fault.
lambda_error = ModelledErrors("lambda")


def invalid(message: str) -> ServiceError:
    return lambda_error("InvalidParameterValueException", message, Type="User")


def entity_too_large(message: str) -> ServiceError:
    """413 RequestEntityTooLargeException. Lambda's model does not declare it (only Invoke's
    RequestTooLargeException), but it is what AWS sends for an oversized upload or Event
    payload, and what callers catch."""
    return ServiceError("RequestEntityTooLargeException", message, 413, Type="User")


def access_denied() -> ServiceError:
    """Another account's function named in a control-plane call: AWS answers 403
    AccessDeniedException, with a null message (recorded for CreateFunction)."""
    return ServiceError("AccessDeniedException", "", 403, Type="User")


def not_authorized(account: str, action: str, arn: str) -> ServiceError:
    """403 AccessDeniedException for a resource of another account whose resource-based policy
    does not grant `action` to the caller (Fireside has no IAM users: the caller is its
    account's root)."""
    return ServiceError(
        "AccessDeniedException",
        f"User: arn:aws:iam::{account}:root is not authorized to perform: {action} on "
        f"resource: {arn} because no resource-based policy allows the {action} action",
        403,
    )


def invalid_marker() -> ServiceError:
    """A Marker this listing did not issue (AWS refuses markers it did not issue, 400)."""
    return invalid("Invalid marker.")


def conflict(message: str) -> ServiceError:
    return lambda_error("ResourceConflictException", message, Type="User")


def update_in_progress(arn: str) -> ServiceError:
    return conflict(
        f"The operation cannot be performed at this time. An update is in progress for resource: {arn}"
    )


def precondition_failed(api: str = "GetFunction/GetAlias") -> ServiceError:
    """A stale RevisionId; `api` is the call AWS's message tells the caller to make."""
    return lambda_error(
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. "
        f"Call the {api} API to retrieve the latest Revision Id",
        Type="User",
    )


def throttled(reason: str) -> ServiceError:
    """429 with AWS's `Reason`: ReservedFunctionConcurrentInvocationLimitExceeded or
    ConcurrentInvocationLimitExceeded."""
    return lambda_error(
        "TooManyRequestsException",
        "Rate Exceeded.",
        headers={"Retry-After": "1"},
        Type="User",
        Reason=reason,
    )


def archive(exc: ArchiveError) -> ServiceError:
    """The blob store's refusal of an uploaded archive, as Lambda words it."""
    if isinstance(exc, ArchiveTooLarge):
        return invalid(f"Unzipped size must be smaller than {exc.limit} bytes")
    return invalid(
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )
