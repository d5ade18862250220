"""SNS (Simple Notification Service): topics, subscriptions and fan-out, durable in the data
directory.

`provider.py` answers the operations (query protocol); `topics.py` holds topics and
subscriptions and their attribute rules; `messages.py` checks what Publish takes and builds
the documents subscribers receive; `fanout.py` delivers them through `fireside.targets` (SQS,
Lambda) or the HTTP delivery queue; `filters.py` applies subscription filter policies;
`store.py` keeps it all in SQLite; `targets.py` lets other services publish to topics.
"""

from fireside.sns.provider import SnsProvider
from fireside.sns.store import SnsStore
from fireside.sns.targets import TopicTargets

__all__ = ["SnsProvider", "SnsStore", "TopicTargets"]
