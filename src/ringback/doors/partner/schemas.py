"""Wire models of the partner API: eat-now's field names and limits."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ringback.http.inputs import BodyInt, InRange
from ringback.relay.model import Outcome, TemplateType


def _date_time_string(value: object) -> object:
    if not isinstance(value, str | dt.datetime):
        raise ValueError("expected an ISO-8601 date-time string")
    return value


# An ISO-8601 string with its offset, never a number (lax pydantic would read 0 as 1970), within
# the client range (SPEC §3).
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_date_time_string), InRange]

FUTURE_TOLERANCE = dt.timedelta(minutes=5)


class MissedCallIn(BaseModel):
    """A missed call report. Only the caller's number is required; unknown fields are ignored."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "caller_phone_number": "+33612345678",
                    "external_call_id": "pbx-call-9f3a2",
                    "occurred_at": "2026-05-10T14:23:00+02:00",
                }
            ]
        },
    )

    caller_phone_number: str = Field(min_length=3, max_length=40)
    external_call_id: str | None = Field(default=None, min_length=1, max_length=128)
    occurred_at: IsoDatetime | None = None

    @field_validator("occurred_at")
    @classmethod
    def _not_in_the_future(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value > dt.datetime.now(dt.UTC) + FUTURE_TOLERANCE:
            raise ValueError("occurred_at is more than 5 minutes in the future")
        return value


class MissedCallOut(BaseModel):
    id: str
    outcome: Outcome
    caller_phone_number: str
    customer_id: str | None
    reservation_id: str | None
    template_type: TemplateType | None
    created_at: str


class MissedCallReply(BaseModel):
    data: MissedCallOut


class RestaurantOut(BaseModel):
    id: str
    slug: str
    name: str
    country: str
    timezone: str


class TokenOut(BaseModel):
    kind: str


class MeOut(BaseModel):
    restaurant: RestaurantOut
    token: TokenOut


class MeReply(BaseModel):
    data: MeOut


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    phone_number: str = Field(min_length=3, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    lang: str | None = Field(default=None, max_length=16)
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    opted_out: bool | None = None


class CustomerOut(BaseModel):
    id: str
    phone_number: str
    name: str | None
    lang: str | None
    external_id: str | None
    opted_out: bool
    created_at: str
    updated_at: str


class ReservationCustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    phone_number: str = Field(min_length=3, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    lang: str | None = Field(default=None, max_length=16)


class ReservationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    external_id: str = Field(min_length=1, max_length=128)
    start_at: IsoDatetime
    party_size: BodyInt = Field(ge=1, le=10000)
    status: str = Field(pattern=r"^[A-Z][A-Z_]{0,39}$", examples=["CONFIRMED"])
    customer: ReservationCustomerIn


class ReservationOut(BaseModel):
    id: str
    external_id: str
    start_at: str
    party_size: int
    status: str
    customer: CustomerOut
    created_at: str
    updated_at: str


CustomerBatch = Annotated[list[CustomerIn], Field(max_length=1000)]
ReservationBatch = Annotated[list[ReservationIn], Field(max_length=1000)]


class CustomersReply(BaseModel):
    data: list[CustomerOut]


class ReservationReply(BaseModel):
    data: ReservationOut


class ReservationsReply(BaseModel):
    data: list[ReservationOut]
