"""WhatsAppCloudSender: templates (SPEC §3) and free-form texts (SPEC §10) through the Graph API."""

from __future__ import annotations

import json

import httpx

from ringback.messages.ports import ClaimedMessage, SendResult
from ringback.relay import rules

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


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
    """Sends on the Graph API transport itself: httpx's transport interface, which respx mocks
    (aiohttp's connection pool and parser under it in production, ``bootstrap``). Every report
    sends inline, and httpx's client layers on top of a transport (request building, auth,
    redirects, cookies, hooks) cost about 0.3 ms of CPU per send that a POST with fixed headers
    never needs (issue 15, docs/PERFORMANCE.md). ``timeout`` bounds every call as the client's
    did (connect, read, write, pool); no redirect is followed, no cookie is kept."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        base_url: str,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._transport = transport
        self._base_url = base_url.rstrip("/")
        self._timeout = {"timeout": timeout.as_dict()}
        self._urls: dict[str, httpx.URL] = {}  # one per business number (restaurant)

    def _messages_url(self, phone_number_id: str) -> httpx.URL:
        """Parsed once per business number: httpx parses a string URL on every request."""
        url = self._urls.get(phone_number_id)
        if url is None:
            url = self._urls[phone_number_id] = httpx.URL(
                f"{self._base_url}/{phone_number_id}/messages"
            )
        return url

    async def send(self, message: ClaimedMessage) -> SendResult:
        request = httpx.Request(
            "POST",
            self._messages_url(message.phone_number_id),
            content=json.dumps(message_body(message)).encode(),
            headers={
                "Authorization": f"Bearer {message.access_token}",
                "Content-Type": "application/json",
            },
            extensions=self._timeout,
        )
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
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
