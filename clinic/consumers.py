"""The progress WebSocket: `/ws/sessions/<session_uuid>/progress/`.

Only a signed-in user who may see the therapy session (`clinic.access.access_session`, the
same check the views use) is accepted; anyone else is refused before the handshake completes,
with close code 4403 whether the session is missing or forbidden. On connect the client first
receives the current state of the latest job of each recording in the session, then every
change as it is committed. Each message is one JSON object:

    {"type": "progress",
     "job": "<job uuid>", "recording": "<recording uuid>",
     "status": "queued" | "running" | "succeeded" | "failed" | "cancelled",
     "stage": "ingest" | "face" | "voice" | "transcript" | "text" | "fusion" | "",
     "progress": 0-100,
     "error_code": "" | a code from clinic/errors.py,
     "error_message": "" | a sentence for the clinician,
     "at": "<ISO 8601 time of the change>"}

Progress is throttled to about two messages a second per job. The client sends nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from clinic.access import access_session
from clinic.models import AnalysisJob
from clinic.progress import job_snapshot, progress_group

CLOSE_REFUSED = 4403


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_REFUSED)
            return
        try:
            await database_sync_to_async(access_session)(user, session_id)
        except Http404:
            await self.close(code=CLOSE_REFUSED)
            return
        self.group = progress_group(session_id)
        # Join before reading the snapshot, so no change slips between the two.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        for snapshot in await _current_state(session_id):
            await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen; anything they send is ignored."""

    async def job_progress(self, event: dict[str, Any]) -> None:
        await self.send_json(event["message"])


@database_sync_to_async
def _current_state(session_id: uuid.UUID) -> list[dict[str, Any]]:
    latest: dict[Any, AnalysisJob] = {}
    jobs = AnalysisJob.objects.filter(recording__session_id=session_id).order_by("created_at")
    for job in jobs:
        latest[job.recording_id] = job
    return [job_snapshot(job) for job in latest.values()]
