"""WhatsAppCloudSender: templates (SPEC §3) and free-form texts (SPEC §10) through the Graph API."""

from __future__ import annotations

import json

import httpx

from ringback.messages.graph_client import GraphPoster, GraphReply
from ringback.messages.ports import ClaimedMessage, SendResult
from ringback.relay import rules


def message_body(message: ClaimedMessage) -> dict[str, object]:
    if message.text is not None:
        # a free-form text, allowed inside the customer service window only (SPEC §10)
        return {
            "messaging_product": "whatsapp",
            "to": message.to_phone_number.lstrip("+"),
            "type": "text",
            "text": {"body": message.text},
        }
    return {
        "messaging_product": "whatsapp",
        "to": message.to_phone_number.lstrip("+"),
        "type": "template",
        "template": {
            "name": message.template_name,
            "language": {"code": message.template_language},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": p} for p in message.parameters],
                }
            ],
        },
    }


def _error_code(reply: GraphReply) -> tuple[int | None, str]:
    try:
        payload = json.loads(reply.content)
    except ValueError:
        return None, f"HTTP {reply.status}"
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):  # JSON that is not a Graph error must not crash the send
        error = {}
    code = error.get("code")
    text = f"HTTP {reply.status}"
    if code is not None:
        text += f" code {code}"
    if error.get("message"):
        text += f": {str(error['message'])[:300]}"
    return (code if isinstance(code, int) else None), text


class WhatsAppCloudSender:
    """Sends on the Graph API client it is given (``graph_client.GraphClient``: one POST on
    aiohttp; in tests, respx's routes through ``tests/graphmock.py``); its timeout bounds every
    call. Every report sends inline, so nothing stands between the message and the POST: no
    redirect is followed, no cookie kept, no request or response model built (issue 15,
    docs/PERFORMANCE.md)."""

    def __init__(self, client: GraphPoster, base_url: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    async def send(self, message: ClaimedMessage) -> SendResult:
        try:
            reply = await self._client.post(
                f"{self._base_url}/{message.phone_number_id}/messages",
                json.dumps(message_body(message)).encode(),
                {
                    "Authorization": f"Bearer {message.access_token}",
                    "Content-Type": "application/json",
                },
            )
        except httpx.TimeoutException:
            return SendResult(error="timeout", transient=True)
        except httpx.HTTPError as exc:
            return SendResult(error=f"network: {type(exc).__name__}", transient=True)
        if reply.is_success:
            try:
                provider_id = json.loads(reply.content)["messages"][0]["id"]
            except (ValueError, KeyError, IndexError, TypeError):
                return SendResult(error="unreadable Graph API reply", transient=False)
            return SendResult(provider_message_id=str(provider_id))
        code, text = _error_code(reply)
        return SendResult(error=text, transient=rules.is_transient(reply.status, code))
