"""S3's errors, with the codes, statuses and wording S3 uses.

Each is a `ServiceError`; the rest-xml protocol writes it as `<Error><Code>..</Code>
<Message>..</Message>...</Error>`, extra fields (`BucketName`, `Key`) included.
"""

from __future__ import annotations

from fireside.aws.auth import SignatureError
from fireside.aws.errors import ModelledErrors, ServiceError

#: Errors the model declares, with its status and fault.
s3_error = ModelledErrors("s3")


__all__ = [
    "access_denied",
    "bucket_already_exists",
    "bucket_already_owned",
    "bucket_not_empty",
    "in_s3_terms",
    "invalid_argument",
    "invalid_bucket_name",
    "invalid_request",
    "invalid_tag",
    "malformed_xml",
    "no_such_bucket",
    "no_such_key",
    "not_implemented",
    "permanent_redirect",
]


def no_such_bucket(bucket: str) -> ServiceError:
    return s3_error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)


def no_such_key(key: str) -> ServiceError:
    return s3_error("NoSuchKey", "The specified key does not exist.", Key=key)


def permanent_redirect(bucket: str, region: str) -> ServiceError:
    """A bucket addressed through another region's endpoint; S3 names the right region in the
    `x-amz-bucket-region` header, which is where in-process callers read it too."""
    return ServiceError(
        "PermanentRedirect",
        "The bucket you are attempting to access must be addressed using the specified "
        "endpoint. Please send all future requests to this endpoint.",
        301,
        headers={"x-amz-bucket-region": region},
        Bucket=bucket,
        Endpoint=f"{bucket}.s3.{region}.amazonaws.com",
    )


def bucket_already_owned(bucket: str) -> ServiceError:
    return s3_error(
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
        BucketName=bucket,
    )


def bucket_already_exists(bucket: str) -> ServiceError:
    return s3_error(
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all "
        "users of the system. Please select a different name and try again.",
        BucketName=bucket,
    )


def bucket_not_empty(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=bucket
    )


def invalid_bucket_name(bucket: str) -> ServiceError:
    return ServiceError(
        "InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=bucket
    )


def access_denied() -> ServiceError:
    return s3_error("AccessDenied", "Access Denied")


def invalid_argument(message: str, name: str, value: str | None) -> ServiceError:
    return ServiceError("InvalidArgument", message, 400, ArgumentName=name, ArgumentValue=value)


def invalid_tag(message: str, key: str, value: str | None = None) -> ServiceError:
    """A tag S3 refuses: `TagKey` names it (and `TagValue`, when the value is the fault)."""
    return ServiceError("InvalidTag", message, 400, TagKey=key, TagValue=value)


def malformed_xml() -> ServiceError:
    return ServiceError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def invalid_request(message: str) -> ServiceError:
    return s3_error("InvalidRequest", message)


#: S3's code, status and words for each kind of refused signature (`SignatureError.reason`).
_AUTH: dict[str, tuple[str, int, str]] = {
    "mismatch": (
        "SignatureDoesNotMatch",
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
    "unknown-key": (
        "InvalidAccessKeyId",
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    "presign-expired": ("AccessDenied", 403, "Request has expired"),
    "skewed": (
        "RequestTimeTooSkewed",
        403,
        "The difference between the request time and the current time is too large.",
    ),
    "missing": ("AccessDenied", 403, "Access Denied"),  # S3 takes it as an anonymous request
    "expired-token": ("ExpiredToken", 400, "The provided token has expired."),
}


def in_s3_terms(error: ServiceError) -> ServiceError:
    """A signature check's refusal as S3 words it (Coral's words otherwise: the checks are
    shared by every service); any other error as it is."""
    if not isinstance(error, SignatureError) or error.reason not in _AUTH:
        return error
    code, status, message = _AUTH[error.reason]
    key = error.access_key_id or None
    return ServiceError(code, message, status, AWSAccessKeyId=key)


def not_implemented(what: str) -> ServiceError:
    # S3's own code for a feature it lacks; 501 is not retried by the SDKs.
    return ServiceError(
        "NotImplemented",
        f"Fireside does not implement {what} yet",
        501,
        sender_fault=False,
    )
