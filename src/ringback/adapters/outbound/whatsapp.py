"""WhatsAppCloudSender: template messages through the Graph API (SPEC §3, message and delivery)."""

from __future__ import annotations

import httpx

from ringback.domain import rules
from ringback.domain.ports import ClaimedMessage, SendResult


def message_body(message: ClaimedMessage) -> dict[str, object]:
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


def _error_code(response: httpx.Response) -> tuple[int | None, str]:
    try:
        payload = response.json()
    except ValueError:
        return None, f"HTTP {response.status_code}"
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):  # JSON that is not a Graph error must not crash the send
        error = {}
    code = error.get("code")
    text = f"HTTP {response.status_code}"
    if code is not None:
        text += f" code {code}"
    if error.get("message"):
        text += f": {str(error['message'])[:300]}"
    return (code if isinstance(code, int) else None), text


class WhatsAppCloudSender:
    """Uses the app's one shared ``httpx.AsyncClient``; its timeouts bound every call."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    async def send(self, message: ClaimedMessage) -> SendResult:
        url = f"{self._base_url}/{message.phone_number_id}/messages"
        try:
            response = await self._client.post(
                url,
                json=message_body(message),
                headers={"Authorization": f"Bearer {message.access_token}"},
            )
        except httpx.TimeoutException:
            return SendResult(error="timeout", transient=True)
        except httpx.HTTPError as exc:
            return SendResult(error=f"network: {type(exc).__name__}", transient=True)
        if response.is_success:
            try:
                provider_id = response.json()["messages"][0]["id"]
            except (ValueError, KeyError, IndexError, TypeError):
                return SendResult(error="unreadable Graph API reply", transient=False)
            return SendResult(provider_message_id=str(provider_id))
        code, text = _error_code(response)
        return SendResult(error=text, transient=rules.is_transient(response.status_code, code))
