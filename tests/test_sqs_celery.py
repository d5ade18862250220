"""Celery, unmodified, with Fireside's SQS as its broker: a real worker process (`celery
worker`) consumes tasks that a producer sent with `.delay()`, end to end over the SQS API
(queue creation, sends, long-polling receives, visibility and deletes by kombu's SQS
transport)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import Server

APP = Path(__file__).parent / "data" / "celery_app"


def test_a_celery_worker_runs_tasks_sent_through_fireside(server: Server, tmp_path: Path) -> None:
    prefix = f"c{uuid.uuid4().hex[:8]}-"
    env = {
        **os.environ,
        "FIRESIDE_ENDPOINT": server.endpoint,
        "OUT_DIR": str(tmp_path),
        "QUEUE_PREFIX": prefix,
        "PYTHONPATH": str(APP),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool=solo",
         "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--loglevel=WARNING"],
        cwd=APP, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        send = "from tasks import record\nfor n in range(5):\n    record.delay(f'task-{n}', n)\n"
        subprocess.run([sys.executable, "-c", send], cwd=APP, env=env, check=True, timeout=60)
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("task-*"))) < 5:
            assert worker.poll() is None, worker.communicate()[0]
            assert time.monotonic() < deadline, "the worker did not run every task"
            time.sleep(0.05)
        results = {p.name: json.loads(p.read_text()) for p in tmp_path.glob("task-*")}
        assert results == {f"task-{n}": {"value": n * 2} for n in range(5)}
        # Acknowledged tasks are deleted: the queue drains.
        sqs = server.client("sqs")
        url = sqs.get_queue_url(QueueName=f"{prefix}celery")["QueueUrl"]
        deadline = time.monotonic() + 30
        while True:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            counts = attributes["Attributes"]
            if counts["ApproximateNumberOfMessages"] == "0" and (
                counts["ApproximateNumberOfMessagesNotVisible"] == "0"
            ):
                break
            assert time.monotonic() < deadline, counts
            time.sleep(0.1)
    finally:
        worker.terminate()
        try:
            worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.communicate()
