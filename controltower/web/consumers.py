"""Live updates: signed-in browsers join one group and receive engine events."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from integrations.live import LIVE_GROUP


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        if not self.scope["user"].is_authenticated:
            await self.close(code=4401)
            return
        await self.channel_layer.group_add(LIVE_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(LIVE_GROUP, self.channel_name)

    async def live_event(self, message: dict) -> None:
        await self.send_json(message["payload"])
