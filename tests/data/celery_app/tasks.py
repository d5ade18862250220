"""A Celery app as its users write one, with Fireside's SQS as the broker (the test sets
FIRESIDE_ENDPOINT and OUT_DIR): `record` writes its arguments to a file the test waits for."""

import json
import os
from pathlib import Path

from celery import Celery

endpoint = os.environ["FIRESIDE_ENDPOINT"].removeprefix("http://")
app = Celery("tasks", broker=f"sqs://test:test@{endpoint}")
app.conf.broker_transport_options = {
    "region": "us-east-1",
    "is_secure": False,
    "wait_time_seconds": 1,
    "polling_interval": 0.05,
    "queue_name_prefix": os.environ.get("QUEUE_PREFIX", ""),
}
app.conf.task_default_queue = "celery"
app.conf.worker_hijack_root_logger = False


@app.task
def record(name: str, value: int) -> int:
    Path(os.environ["OUT_DIR"], name).write_text(json.dumps({"value": value * 2}))
    return value * 2
