"""Access logs of API Gateway stages: one line per request, in the stage's own format.

A stage's `AccessLogSettings` name a CloudWatch Logs group (`DestinationArn`,
`arn:aws:logs:<region>:<account>:log-group:<name>`) and a `Format` with `$context` variables
(`$context.requestId $context.httpMethod $context.routeKey $context.status`, or a JSON
template such as `{"requestId":"$context.requestId","status":"$context.status"}`). Fireside
writes each line to its log store under the group's name (`/` becomes `_`, a leading one
dropped), so `fireside logs <name>` prints them, as it does a function's: `fireside logs
aws_apigateway_my-api` for the group `/aws/apigateway/my-api`.

A variable the request has no value for is written `-`, as API Gateway writes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["destination_name", "format_line"]

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.-]*[A-Za-z0-9_])")
_GROUP = re.compile(
    r"arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:([A-Za-z0-9_./#-]{1,512}?)(?::\*)?"
)


def destination_name(arn: str) -> str | None:
    """The log store name for a stage's `DestinationArn`, None if it names no log group."""
    match = _GROUP.fullmatch(arn)
    if match is None:
        return None
    name = match[1].strip("/").replace("/", "_")
    if not name or name.startswith(".") or ".." in name:
        return None
    return name


def format_line(template: str, variables: Mapping[str, str]) -> str:
    """`template` with each `$context.<name>` replaced by its value (`-` when unknown), on
    one line."""
    line = _VARIABLE.sub(lambda m: variables.get(m[1], "-"), template)
    return line.replace("\r", " ").replace("\n", " ")
