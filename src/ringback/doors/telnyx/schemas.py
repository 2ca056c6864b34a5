"""Wire models of Telnyx Call Control v2 webhooks (``call.initiated``, ``.answered``, ``.hangup``).

Only what Ringback reads is declared; everything else Telnyx sends is ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ringback.http.inputs import ClientDatetime


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CallPayload(_Wire):
    call_session_id: str | None = Field(default=None, max_length=256)
    call_control_id: str | None = None
    call_leg_id: str | None = None
    from_: str | None = Field(default=None, alias="from", max_length=256)
    to: str | None = Field(default=None, max_length=256)
    direction: str | None = None
    state: str | None = None
    start_time: ClientDatetime | None = None
    end_time: ClientDatetime | None = None
    hangup_cause: str | None = None
    hangup_source: str | None = None


class EventData(_Wire):
    record_type: str | None = None
    event_type: str | None = None
    id: str | None = None
    occurred_at: ClientDatetime | None = None
    payload: CallPayload | None = None


class WebhookIn(_Wire):
    data: EventData | None = None
