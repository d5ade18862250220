"""Errors that travel to AWS clients.

Exception tree:

    FiresideError                      anything Fireside raises on purpose
    └── ServiceError                   an AWS error: code, HTTP status, sender fault, fields
        (created by providers, the wire layer and auth; serialized in one place, the
         protocol's `serialize_error`)

An error the service's model declares is made by that service's factory (`ModelledErrors`):
`lambda_error("ResourceNotFoundException", message, **fields)` takes its HTTP status and fault
from the error shape (404 in Lambda, 400 for the same code in DynamoDB), so no call site
chooses a status by hand. Errors no model declares (signature checks, S3's many unmodelled
codes, Fireside's NotImplemented) are made with `ServiceError(code, message, status)`. The
protocol looks up the error shape of a code in the service model and writes the message and
fields the way the model names them (Lambda uses `message` for most errors and `Message` for
a few). Anything that is
not a `ServiceError` reaching the edge is a bug: it becomes a 500 `ServiceException` with the
request id, and is logged.
"""

from __future__ import annotations

from typing import Any

from fireside.aws.model import load_service


class FiresideError(Exception):
    """Base of every exception Fireside raises deliberately."""


class ServiceError(FiresideError):
    """An error with AWS wire metadata: `code` (e.g. `ResourceNotFoundException`), `status`."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        sender_fault: bool = True,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        #: Extra HTTP headers to send with the error (e.g. `Retry-After`).
        self.headers = headers or {}
        #: Modelled members of the error shape besides the message (e.g. `Type`, `Reason`).
        self.fields = fields


def validation_error(problems: list[str]) -> ServiceError:
    """AWS's constraint-validation error: `1 validation error detected: Value ... at ...`."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return ServiceError(
        "ValidationException",
        f"{count} validation {noun} detected: " + "; ".join(problems),
        400,
    )


class ModelledErrors:
    """Makes the errors one service's model declares, with the model's status and fault."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(
        self, code: str, message: str, *, headers: dict[str, str] | None = None, **fields: Any
    ) -> ServiceError:
        shape = load_service(self.service).error_shape(code)
        if shape is None:  # a Fireside bug, caught by the tests that raise it
            raise KeyError(f"the {self.service} model declares no error {code}")
        status = shape.error_status
        # json and rest-xml models rarely say `senderFault`: any 4xx is the sender's.
        fault = shape.error_sender_fault or status < 500
        return ServiceError(code, message, status, sender_fault=fault, headers=headers, **fields)
