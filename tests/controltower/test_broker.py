"""The embedded broker never hands a worker a message that is still being written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

from controltower import broker
from controltower.celery import app


def connect(folder: Path) -> Connection:
    return Connection(
        "filesystem://",
        transport="controltower.broker:Transport",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),
        },
    )


def test_the_embedded_default_publishes_through_the_atomic_transport(settings):
    if settings.REDIS_URL:
        pytest.skip("this run's broker is Redis")
    with app.connection_for_write() as connection:
        assert connection.transport_cls == "controltower.broker:Transport"
        assert isinstance(connection.default_channel, broker.Channel)


def test_a_message_in_the_making_is_not_taken_and_a_whole_one_is(tmp_path):
    with connect(tmp_path) as connection:
        queue = connection.SimpleQueue("jobs")
        # What a writer leaves while its message is half written.
        (tmp_path / "1_half.jobs.msg.part").write_bytes(b'{"body": "')
        with pytest.raises(queue.Empty):
            queue.get(block=False)

        queue.put({"invoice": "INV-1"})
        assert queue.get(block=False).payload == {"invoice": "INV-1"}
        assert [p.name for p in tmp_path.glob("*.msg")] == []
        queue.close()


# Names of files opened to be created or emptied ("w" modes), while a test watches.
_opened_for_writing: list[str] | None = None


def _watch_opens(event: str, args: tuple) -> None:
    if _opened_for_writing is not None and event == "open":
        path, mode = args[0], args[1]
        if isinstance(path, str) and isinstance(mode, str) and "w" in mode:
            _opened_for_writing.append(Path(path).name)


sys.addaudithook(_watch_opens)


def test_no_file_is_written_under_the_name_a_reader_takes(tmp_path):
    global _opened_for_writing
    _opened_for_writing = []
    try:
        with connect(tmp_path) as connection:
            jobs = Queue("jobs", Exchange("billing"), routing_key="jobs")
            connection.Producer().publish(
                {"invoice": "INV-2"}, exchange=jobs.exchange, routing_key="jobs", declare=[jobs]
            )
    finally:
        written, _opened_for_writing = _opened_for_writing, None
    # The message and the exchange's table were written, each under a name of its own first.
    assert not [name for name in written if name.endswith((".msg", ".exchange"))]
    assert any(name.endswith(".jobs.msg.part") for name in written)
    assert any(name.startswith("billing.exchange.") for name in written)
    assert [p.name.partition(".")[2] for p in tmp_path.glob("*.msg")] == ["jobs.msg"]
