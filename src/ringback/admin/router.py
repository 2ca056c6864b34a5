"""Routes of ``/api/admin/v1``: thin — wire model to stored settings, one store call, back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from sqlalchemy.exc import IntegrityError

from ringback.admin.auth import AdminRoute, admin_bearer
from ringback.admin.examples import RESTAURANT_EXAMPLE, RESTAURANT_REPLY_EXAMPLE
from ringback.admin.schemas import (
    Envelope,
    ErrorEnvelope,
    RestaurantCreate,
    RestaurantOut,
    RestaurantUpdate,
    TokenCreate,
    TokenOut,
)
from ringback.errors import Conflict
from ringback.http.deps import Tenancy
from ringback.http.errors import not_found
from ringback.http.inputs import parse_id
from ringback.tenancy.model import mint_token
from ringback.tenancy.repository import TenancyRepository
from ringback.tenancy.stored import StoredRestaurant

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorEnvelope, "description": "Missing or wrong admin token"},
    422: {"model": ErrorEnvelope, "description": "A setting is invalid (each field is named)"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "No such restaurant"}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorEnvelope, "description": "The slug is taken"}
}

router = APIRouter(
    prefix="/api/admin/v1",
    tags=["admin"],
    route_class=AdminRoute,
    dependencies=[Depends(admin_bearer)],
    responses=_ERRORS,
)


async def _stored_restaurant(store: TenancyRepository, raw_id: str) -> StoredRestaurant:
    restaurant_id = parse_id(raw_id)
    stored = await store.stored_restaurant(restaurant_id) if restaurant_id is not None else None
    if stored is None:
        raise not_found(f"No restaurant {raw_id}")
    return stored


def _slug_taken(slug: Any) -> Conflict:
    return Conflict(f"The slug {slug!r} is already taken")


_reply_example = {"application/json": {"example": RESTAURANT_REPLY_EXAMPLE}}


@router.post(
    "/restaurants",
    status_code=201,
    response_model=Envelope[RestaurantOut],
    responses={**_CONFLICT, 201: {"content": _reply_example}},
)
async def create_restaurant(
    body: Annotated[
        RestaurantCreate,
        Body(
            openapi_examples={
                "full": {"summary": "With WhatsApp configured", "value": RESTAURANT_EXAMPLE},
                "minimal": {
                    "summary": "Just the tenant",
                    "value": {"name": "Chez Nous", "country": "FR", "timezone": "Europe/Paris"},
                },
            }
        ),
    ],
    store: Tenancy,
) -> Envelope[RestaurantOut]:
    """Create a restaurant. Without `slug`, one is derived from the name and made unique."""
    try:
        stored = await store.create_restaurant(body.to_settings(), slug=body.slug)
    except IntegrityError as error:
        raise _slug_taken(body.slug) from error
    return Envelope(data=RestaurantOut.from_stored(stored))


@router.get("/restaurants", response_model=Envelope[list[RestaurantOut]])
async def list_restaurants(store: Tenancy) -> Envelope[list[RestaurantOut]]:
    """Every restaurant, oldest first."""
    restaurants = await store.stored_restaurants()
    return Envelope(data=[RestaurantOut.from_stored(stored) for stored in restaurants])


@router.get(
    "/restaurants/{restaurant_id}",
    response_model=Envelope[RestaurantOut],
    responses={**_NOT_FOUND, 200: {"content": _reply_example}},
)
async def get_restaurant(restaurant_id: str, store: Tenancy) -> Envelope[RestaurantOut]:
    """One restaurant; secrets show only as `access_token_set`."""
    stored = await _stored_restaurant(store, restaurant_id)
    return Envelope(data=RestaurantOut.from_stored(stored))


@router.patch(
    "/restaurants/{restaurant_id}",
    response_model=Envelope[RestaurantOut],
    responses={**_NOT_FOUND, **_CONFLICT, 200: {"content": _reply_example}},
)
async def update_restaurant(
    restaurant_id: str,
    body: Annotated[
        RestaurantUpdate,
        Body(
            openapi_examples={
                "pause": {"summary": "Stop texting", "value": {"missed_calls_enabled": False}},
                "templates": {
                    "summary": "New templates; the stored access token is kept",
                    "value": {
                        "whatsapp": {
                            "phone_number_id": "109876543210",
                            "templates": {"MISSED_CALL": {"name": "missed_v2", "language": "fr"}},
                        }
                    },
                },
                "quiet": {
                    "summary": "Quiet hours",
                    "value": {"quiet_hours": {"start": "22:00", "end": "08:30"}},
                },
                "ccai": {
                    "summary": "CCAI call API settings (keys left out inside `ccai` are kept)",
                    "value": {
                        "ccai": {
                            "languages": ["en", "fr"],
                            "menus": [{"id": 1, "name": "Bookings", "menu_type": "ivr_menu"}],
                            "agents": [{"id": 1, "email": "host@example.com", "name": "Host"}],
                            "outbound_numbers": [{"number": "+33184880000", "default": True}],
                            "tickets": [{"ticket_id": "T-1", "phone_number": "+33612345678"}],
                        }
                    },
                },
            }
        ),
    ],
    store: Tenancy,
) -> Envelope[RestaurantOut]:
    """Replace the top-level keys given; inside `whatsapp` an omitted `access_token` is kept;
    inside `ccai` the keys left out are kept."""
    stored = await _stored_restaurant(store, restaurant_id)
    if not body.model_fields_set:
        return Envelope(data=RestaurantOut.from_stored(stored))
    try:
        updated = await store.update_restaurant(
            stored.id,
            body.merged_into(stored.settings),
            columns=body.given_settings(),
            slug=body.slug,
        )
    except IntegrityError as error:
        raise _slug_taken(body.slug) from error
    if updated is None:
        raise not_found(f"No restaurant {restaurant_id}")
    return Envelope(data=RestaurantOut.from_stored(updated))


@router.post(
    "/restaurants/{restaurant_id}/tokens",
    status_code=201,
    response_model=Envelope[TokenOut],
    responses={
        **_NOT_FOUND,
        201: {
            "content": {
                "application/json": {
                    "example": {"data": {"id": "31", "kind": "partner", "token": "rb_partner_…"}}
                }
            }
        },
    },
)
async def create_token(
    restaurant_id: str,
    body: Annotated[
        TokenCreate,
        Body(
            openapi_examples={
                "partner": {"value": {"kind": "partner", "name": "booking engine"}},
                "ops": {"value": {"kind": "ops"}},
            }
        ),
    ],
    store: Tenancy,
) -> Envelope[TokenOut]:
    """Mint a token of one kind for the restaurant. The secret is in this reply only."""
    stored = await _stored_restaurant(store, restaurant_id)
    token = mint_token(body.kind)
    token_id = await store.create_token(stored.id, body.kind, token, body.name)
    return Envelope(data=TokenOut(id=str(token_id), kind=body.kind, token=token))


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    response_class=Response,
    responses={404: {"model": ErrorEnvelope, "description": "No live token with that id"}},
)
async def revoke_token(token_id: str, store: Tenancy) -> Response:
    """Revoke a token; it stops working at once."""
    parsed = parse_id(token_id)
    if parsed is None or not await store.revoke_token(parsed):
        raise not_found(f"No live token {token_id}")
    return Response(status_code=204)
