"""What the event-source pollers (SQS, DynamoDB Streams, Kafka) share: how long to wait after
failures in a row, and the loop that polls a source until the poller is cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

from fireside.aws.errors import ServiceError
from fireside.compute.mappings import EventSourceMapping

__all__ = ["BACKOFF_MAX", "backoff", "poll_forever"]

log = logging.getLogger(__name__)

BACKOFF_MAX = 30.0


def backoff(failures: int, divisor: float) -> float:
    """Seconds to wait after `failures` failures in a row: 2 / `divisor`, doubling with each
    failure up to 256 / `divisor`, and never more than BACKOFF_MAX."""
    return min(2.0 ** min(failures, 8) / divisor, BACKOFF_MAX)


async def poll_forever(
    mapping: EventSourceMapping,
    poll_once: Callable[[], Awaitable[bool]],
    idle: Callable[[], Awaitable[None]],
) -> NoReturn:
    """Call `poll_once` (False: nothing new came, so await `idle` before the next) until
    cancelled. A failure is the mapping's LastProcessingResult when the source or the function
    refused (a ServiceError), logged with its stack when it is a Fireside bug; either way the
    poller lives on, backing off while failures follow each other."""
    failures = 0
    while True:
        try:
            progressed = await poll_once()
            failures = 0
            if not progressed:
                await idle()
        except ServiceError as error:  # throttled, source gone, function gone, ...
            failures += 1
            delay = backoff(failures, 4)
            mapping.last_result = f"PROBLEM: {error.code}: {error.message}"
            log.warning(
                "event-source mapping %s: %s: %s; polling again in %.1f s",
                mapping.uuid,
                error.code,
                error.message,
                delay,
            )
            await asyncio.sleep(delay)
        except Exception:  # a Fireside bug: keep the poller alive, and say so
            failures += 1
            log.exception("event-source mapping %s: poll failed", mapping.uuid)
            await asyncio.sleep(backoff(failures, 4))
