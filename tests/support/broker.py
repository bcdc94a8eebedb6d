"""Reading what waits in the tower's broker: the messages of a queue, taken off it."""

from __future__ import annotations

from controltower.celery import app

PROCESS_TASK = "integrations.tasks.process_transactions_task"


def queued_chunks(queue: str) -> list[list[int]]:
    """Takes every message off ``queue`` and returns the transaction ids of each chunk sent,
    in the order they were sent (a message of another task fails the test)."""
    chunks = []
    with app.connection_for_read() as connection:
        messages = connection.SimpleQueue(queue)
        try:
            while True:
                try:
                    message = messages.get(block=False)
                except messages.Empty:
                    break
                assert message.headers["task"] == PROCESS_TASK, message.headers["task"]
                args, _kwargs, _embed = message.decode()
                chunks.append(args[0])
                message.ack()
        finally:
            messages.close()
    return chunks
