"""The embedded broker: kombu's file-system transport, with messages written atomically.

kombu's own transport creates a file (a message, an exchange's table) under its final name and
then writes into it, so a worker polling the folder can take a message while it is still empty
and fail to decode it, which stops its consumer; a publisher can do the same with a table. Here
each is written under a name nobody reads and moved into place once it is whole; a rename or a
link within one folder is atomic.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        # kombu creates an exchange's table empty and then writes it, so a publisher reading it
        # in between fails to decode it. Create it whole (an empty table) if it is missing, and
        # let kombu add the binding under its lock.
        table = self._exchange_file(exchange)
        if not table.exists():
            self.control_folder.mkdir(parents=True, exist_ok=True)
            partial = table.with_name(f"{table.name}.{uuid.uuid4()}.part")
            partial.write_bytes(dumps([]).encode())
            try:
                os.link(partial, table)
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)

    def _put(self, queue: str, payload: dict, **kwargs: object) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Not "<queue>.msg": the worker skips it until the rename.
        partial = f"{final}.part"
        try:
            with open(partial, "wb") as f:
                f.write(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
