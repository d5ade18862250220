"""SNS's HTTP/S delivery policy: how often and how fast a failed POST is tried again.

AWS documents four phases of retries after the first attempt ("Amazon SNS message delivery
retries"): `numNoDelayRetries` at once, `numMinDelayRetries` spaced `minDelayTarget` apart,
the backoff phase (the retries left over, spaced from `minDelayTarget` up to
`maxDelayTarget` along `backoffFunction`), and `numMaxDelayRetries` spaced `maxDelayTarget`
apart; `numRetries` counts them all. `throttlePolicy.maxReceivesPerSecond` caps deliveries
per subscription, `requestPolicy.headerContentType` sets the Content-Type.

AWS draws its four backoff functions as curves from the minimum to the maximum delay without
giving formulas; Fireside's are, for the backoff retry at fraction `t` (0 first, 1 last) of
the phase: linear `t`, arithmetic `t**2`, geometric `min * (max/min)**t`, exponential
`(2**(10t) - 1) / 1023` of the way from min to max. AWS adds jitter; Fireside does not, so a
schedule can be tested.

A policy comes as a subscription sets it (`{"healthyRetryPolicy": ...}`) or as a topic sets
it (`{"http": {"defaultHealthyRetryPolicy": ...}}`); both are read. `policy_error` checks one
against AWS's limits, for SetTopicAttributes / SetSubscriptionAttributes to refuse.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT", "RetryPolicy", "parse_policy", "policy_error"]

BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
MAX_RETRIES = 100
MAX_DELAY = 3600
#: AWS: "The total policy retry time for an HTTP/S endpoint cannot be greater than 3,600 s."
MAX_TOTAL = 3600
DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"
_RETRY_KEYS = (
    "minDelayTarget",
    "maxDelayTarget",
    "numRetries",
    "numNoDelayRetries",
    "numMinDelayRetries",
    "numMaxDelayRetries",
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    num_retries: int = 3
    num_no_delay: int = 0
    min_delay: float = 20.0
    max_delay: float = 20.0
    num_min_delay: int = 0
    num_max_delay: int = 0
    backoff: str = "linear"
    #: Deliveries per second to one subscription (None: no throttling).
    max_per_second: float | None = None
    content_type: str = DEFAULT_CONTENT_TYPE

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 = the first retry)."""
        if retry <= self.num_no_delay:
            return 0.0
        if retry <= self.num_no_delay + self.num_min_delay:
            return self.min_delay
        backoff_count = self._backoff_count()
        index = retry - self.num_no_delay - self.num_min_delay - 1
        if index >= backoff_count:
            return self.max_delay
        t = index / (backoff_count - 1) if backoff_count > 1 else 1.0
        low, high = self.min_delay, self.max_delay
        if self.backoff == "arithmetic":
            return low + (high - low) * t * t
        if self.backoff == "geometric":
            return low * math.pow(high / low, t) if low > 0 else high * t
        if self.backoff == "exponential":
            return low + (high - low) * (math.pow(2.0, 10 * t) - 1) / 1023
        return low + (high - low) * t

    def _backoff_count(self) -> int:
        return max(
            0, self.num_retries - self.num_no_delay - self.num_min_delay - self.num_max_delay
        )

    def total_delay(self) -> float:
        return sum(self.delay(retry) for retry in range(1, self.num_retries + 1))


DEFAULT = RetryPolicy()


def _sections(policy: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The retry, throttle and request sections of either shape of policy."""
    http = policy.get("http")
    if isinstance(http, dict):
        return (
            http.get("defaultHealthyRetryPolicy"),
            http.get("defaultThrottlePolicy"),
            http.get("defaultRequestPolicy"),
        )
    return (
        policy.get("healthyRetryPolicy"),
        policy.get("throttlePolicy"),
        policy.get("requestPolicy"),
    )


def policy_error(policy: dict[str, Any] | str) -> str | None:
    """Why `policy` breaks AWS's limits for HTTP/S delivery policies, or None if it does not."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return "DeliveryPolicy: failed to parse JSON"
    if not isinstance(policy, dict):
        return "DeliveryPolicy: must be a JSON object"
    retry, throttle, request = _sections(policy)
    if retry is not None:
        if not isinstance(retry, dict):
            return "DeliveryPolicy: healthyRetryPolicy must be a JSON object"
        for key in _RETRY_KEYS:
            value = retry.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                return f"DeliveryPolicy: {key} must be a non-negative integer"
        backoff = retry.get("backoffFunction", "linear")
        if backoff not in BACKOFF_FUNCTIONS:
            return f"DeliveryPolicy: backoffFunction must be one of {', '.join(BACKOFF_FUNCTIONS)}"
        low, high = retry.get("minDelayTarget", 20), retry.get("maxDelayTarget", 20)
        if not 1 <= low <= high:
            return "DeliveryPolicy: minDelayTarget must be between 1 and maxDelayTarget"
        if high > MAX_DELAY:
            return f"DeliveryPolicy: maxDelayTarget must be at most {MAX_DELAY}"
        parsed = parse_policy(policy)
        if retry.get("numRetries", 3) > MAX_RETRIES:
            return f"DeliveryPolicy: numRetries must be between 0 and {MAX_RETRIES}"
        phases = parsed.num_no_delay + parsed.num_min_delay + parsed.num_max_delay
        if phases > parsed.num_retries:
            return (
                "DeliveryPolicy: numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries "
                "must not exceed numRetries"
            )
        if parsed.total_delay() > MAX_TOTAL:
            return f"DeliveryPolicy: the total retry time must not exceed {MAX_TOTAL} seconds"
    if throttle is not None:
        if not isinstance(throttle, dict):
            return "DeliveryPolicy: throttlePolicy must be a JSON object"
        rate = throttle.get("maxReceivesPerSecond")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
            return "DeliveryPolicy: maxReceivesPerSecond must be an integer of 1 or greater"
    if request is not None:
        content_type = request.get("headerContentType") if isinstance(request, dict) else None
        if content_type is not None and not _valid_content_type(content_type):
            return "DeliveryPolicy: headerContentType is not a valid content type"
    return None


def _valid_content_type(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 256
        and value.isprintable()
        and "\r" not in value
        and "\n" not in value
    )


def _int(section: dict[str, Any], key: str, default: int, high: int) -> int:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return max(0, min(int(value), high))


def parse_policy(policy: dict[str, Any] | None) -> RetryPolicy:
    """The policy to deliver by: AWS's defaults where `policy` says nothing, values clamped
    to AWS's limits (a stored policy was checked by `policy_error` when it was set)."""
    if not isinstance(policy, dict):
        return DEFAULT
    retry, throttle, request = _sections(policy)
    retry = retry if isinstance(retry, dict) else {}
    min_delay = max(1, _int(retry, "minDelayTarget", 20, MAX_DELAY))
    max_delay = max(min_delay, _int(retry, "maxDelayTarget", max(20, min_delay), MAX_DELAY))
    num_retries = _int(retry, "numRetries", 3, MAX_RETRIES)
    backoff = retry.get("backoffFunction", "linear")
    rate: float | None = None
    if isinstance(throttle, dict):
        value = throttle.get("maxReceivesPerSecond")
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1:
            rate = float(value)
    content_type = DEFAULT_CONTENT_TYPE
    if isinstance(request, dict) and _valid_content_type(request.get("headerContentType")):
        content_type = request["headerContentType"]
    return RetryPolicy(
        num_retries=num_retries,
        num_no_delay=_int(retry, "numNoDelayRetries", 0, MAX_RETRIES),
        min_delay=float(min_delay),
        max_delay=float(max_delay),
        num_min_delay=_int(retry, "numMinDelayRetries", 0, MAX_RETRIES),
        num_max_delay=_int(retry, "numMaxDelayRetries", 0, MAX_RETRIES),
        backoff=backoff if backoff in BACKOFF_FUNCTIONS else "linear",
        max_per_second=rate,
        content_type=content_type,
    )
