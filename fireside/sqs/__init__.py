"""SQS (Simple Queue Service): standard and FIFO queues, durable in the data directory.

`provider.py` (queues) and `messaging.py` (messages) answer the operations; `store.py` keeps
them in SQLite; `wire.py` is SQS's json protocol with its query-compatible error codes.
"""

from fireside.sqs.provider import SqsProvider
from fireside.sqs.store import SqsStore
from fireside.sqs.wire import SqsProtocol

__all__ = ["SqsProtocol", "SqsProvider", "SqsStore"]
