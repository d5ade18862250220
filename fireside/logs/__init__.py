"""CloudWatch Logs (`logs`): log groups and streams over Fireside's function logs and the
events clients put, read with GetLogEvents / FilterLogEvents and followed with StartLiveTail.

Not to be confused with `fireside.compute.logs`, which writes each function's log file; this
package serves those files (and groups of its own) through the CloudWatch Logs API.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fireside.logs.events_api import EventsApi
from fireside.logs.groups import LogGroups
from fireside.logs.live_tail import LiveTail
from fireside.logs.provider import LogsProvider
from fireside.logs.store import LogsStore

__all__ = ["LogGroups", "LogsProvider", "LogsService", "LogsStore"]

#: How often groups with a retention policy drop their expired older half.
EXPIRE_INTERVAL = 3600.0


class LogsService:
    """The served operations and the retention loop, over one `LogGroups`."""

    def __init__(self, groups: LogGroups) -> None:
        self.groups = groups
        self.provider = LogsProvider(groups)
        self.live_tail = LiveTail(self.provider)

    def operations(self) -> dict[str, Any]:
        return {
            **self.provider.operations(),
            **EventsApi(self.provider).operations(),
            **self.live_tail.operations(),
        }

    async def expire_forever(self, interval: float = EXPIRE_INTERVAL) -> None:
        while True:
            retained = self.groups.retained()
            await asyncio.to_thread(self.groups.drop_expired, retained)
            await asyncio.sleep(interval)

    def close(self) -> None:
        self.groups.store.close()
