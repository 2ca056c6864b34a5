"""CCAI credentials: HTTP Basic, username = restaurant slug, password = a ``ccai`` token (SPEC §2).

Rate limited per restaurant (``RINGBACK_CCAI_RATE_LIMIT_PER_SECOND``), after authentication.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ringback.doors.ccai.errors import unauthorized
from ringback.tenancy.auth import PER_CCAI_RESTAURANT, authenticator, basic_with_slug
from ringback.tenancy.model import ApiToken, TokenKind

ccai_token = authenticator({TokenKind.CCAI}, basic_with_slug, unauthorized, PER_CCAI_RESTAURANT)
CcaiCaller = Annotated[ApiToken, Depends(ccai_token)]
