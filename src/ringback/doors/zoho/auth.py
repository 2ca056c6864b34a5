"""Zoho credentials: ``Authorization: Zoho-oauthtoken <zoho token>``; not rate limited."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Depends

from ringback.http.errors import unauthorized
from ringback.tenancy.auth import authenticator, bearer
from ringback.tenancy.model import ApiToken, TokenKind

SCHEME = "Zoho-oauthtoken"
zoho_token = authenticator(
    {TokenKind.ZOHO}, bearer(SCHEME), partial(unauthorized, challenge=SCHEME)
)
ZohoCaller = Annotated[ApiToken, Depends(zoho_token)]
