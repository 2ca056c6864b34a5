"""The WhatsApp door's reading of ``messages[]`` (no database): each item on its own, every type
of the Cloud API into the stored shape, what it cannot read skipped with a reason."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from ringback.conversations.model import InboundType
from ringback.doors.whatsapp.schemas import WebhookIn
from ringback.doors.whatsapp.wire import to_changes

PAYLOADS = Path(__file__).parents[2] / "payloads"
RECEIVED = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def body_with(*messages: Any, statuses: tuple[Any, ...] = ()) -> WebhookIn:
    body = json.loads((PAYLOADS / "whatsapp_message_text.json").read_text())
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"] = list(messages)
    value["statuses"] = list(statuses)
    return WebhookIn.model_validate(body)


def sample(kind: str) -> dict[str, Any]:
    body = json.loads((PAYLOADS / f"whatsapp_message_{kind}.json").read_text())
    item: dict[str, Any] = body["entry"][0]["changes"][0]["value"]["messages"][0]
    return item


def test_the_sender_and_the_profile_name_are_read_as_e164() -> None:
    (change,) = to_changes(body_with(sample("text")), RECEIVED)

    (message,) = change.messages
    assert message.sender == "+33612345678"
    assert change.profile_names == {"+33612345678": "Camille Martin"}
    assert change.phone_number_id == "106540352242922"
    assert message.sent_at == dt.datetime.fromtimestamp(1750264102, dt.UTC)


def test_a_forwarded_message_has_no_context_id_but_says_it_was_forwarded() -> None:
    item = sample("image")
    item["context"] = {"forwarded": True}

    (change,) = to_changes(body_with(item), RECEIVED)

    assert change.messages[0].context_id is None
    assert change.messages[0].details["forwarded"] is True


def test_a_flow_reply_keeps_its_body_and_its_answer() -> None:
    item = sample("interactive_button_reply")
    item["interactive"] = {
        "type": "nfm_reply",
        "nfm_reply": {"name": "flow", "body": "Sent", "response_json": '{"party_size": "4"}'},
    }

    (change,) = to_changes(body_with(item), RECEIVED)

    message = change.messages[0]
    assert (message.type, message.text) == (InboundType.INTERACTIVE, "Sent")
    assert message.details == {
        "interactive_type": "nfm_reply",
        "name": "flow",
        "response_json": '{"party_size": "4"}',
    }


def test_a_type_the_api_added_later_is_other_with_its_name() -> None:
    item = {**sample("text"), "type": "order", "order": {"catalog_id": "1"}}
    del item["text"]

    (change,) = to_changes(body_with(item), RECEIVED)

    assert change.messages[0].type is InboundType.OTHER
    assert change.messages[0].details == {"provider_type": "order"}


def test_an_unreadable_timestamp_reads_as_the_time_received() -> None:
    item = {**sample("text"), "timestamp": "soon"}

    (change,) = to_changes(body_with(item), RECEIVED)

    assert change.messages[0].sent_at == RECEIVED


def test_malformed_items_are_skipped_with_a_reason_and_the_others_kept() -> None:
    good = sample("text")
    no_sender = copy.deepcopy(good)
    del no_sender["from"]
    numeric_id = {**good, "id": 12345}
    skipped: list[str] = []

    (change,) = to_changes(
        body_with(no_sender, 7, numeric_id, good, statuses=({"status": "read"},)),
        RECEIVED,
        skipped,
    )

    assert [m.provider_message_id for m in change.messages] == [good["id"]]
    assert skipped == [
        "statuses[0]: malformed (id)",
        "messages[0]: malformed (from)",
        "messages[1]: malformed (item)",
        "messages[2]: malformed (id)",
    ]


def test_a_reaction_names_the_message_it_reacts_to_and_an_empty_emoji_removes_it() -> None:
    removed = copy.deepcopy(sample("reaction"))
    removed["reaction"]["emoji"] = ""

    (change,) = to_changes(body_with(sample("reaction"), removed), RECEIVED)

    added, taken_back = change.messages
    assert added.text == "\U0001f44d"
    assert added.context_id == sample("reaction")["reaction"]["message_id"]
    assert taken_back.text == ""
