"""How each door's credential is read from the Authorization header (tenancy/auth.py)."""

from __future__ import annotations

import base64

import pytest
from starlette.requests import Request

from ringback.tenancy.auth import Credential, basic_with_slug, bearer


def with_authorization(value: str | None) -> Request:
    headers = [] if value is None else [(b"authorization", value.encode("latin-1"))]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer rb_partner_abc", Credential("rb_partner_abc")),
        ("bearer   rb_partner_abc  ", Credential("rb_partner_abc")),
        ("Bearer " + "x" * 512, Credential("x" * 512)),
        ("Bearer " + "x" * 513, None),
        ("Bearer ", None),
        ("Zoho-oauthtoken rb_zoho_abc", None),
        (None, None),
    ],
)
def test_a_bearer_token_is_the_text_after_the_scheme(
    header: str | None, expected: Credential | None
) -> None:
    assert bearer()(with_authorization(header)) == expected


def test_zoho_names_its_own_scheme() -> None:
    read = bearer("Zoho-oauthtoken")

    assert read(with_authorization("zoho-OAUTHTOKEN rb_zoho_abc")) == Credential("rb_zoho_abc")
    assert read(with_authorization("Bearer rb_zoho_abc")) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (basic("chez-nous:rb_ccai_abc"), Credential("rb_ccai_abc", slug="chez-nous")),
        (basic("chez-nous:rb:with:colons"), Credential("rb:with:colons", slug="chez-nous")),
        (basic("chez-nous"), None),
        (basic(":rb_ccai_abc"), None),
        (basic("chez-nous:"), None),
        ("Basic not-base64!", None),
        ("Basic " + base64.b64encode(b"\xff:\xfe").decode(), None),
        ("Basic " + "A" * 2052, None),
        ("Bearer rb_ccai_abc", None),
    ],
)
def test_basic_credentials_carry_the_slug_and_the_token(
    header: str, expected: Credential | None
) -> None:
    assert basic_with_slug(with_authorization(header)) == expected
