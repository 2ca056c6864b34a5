"""Partner credentials: ``Authorization: Bearer <partner token>``, rate limited per token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ringback.http.errors import unauthorized
from ringback.tenancy.auth import PER_TOKEN, authenticator, bearer
from ringback.tenancy.model import ApiToken, TokenKind

partner_token = authenticator({TokenKind.PARTNER}, bearer(), unauthorized, PER_TOKEN)
PartnerCaller = Annotated[ApiToken, Depends(partner_token)]
