"""``GET /api/v1/key``: what the calling key is and may do (SPEC §12, introspection).

Any valid key may call it: the guard lets ``KEY_ONLY_ENDPOINTS`` through without an ability,
after authentication, the per-key limit (it counts like any request) and the allowed IPs.
The answer is built from the key's row, read fresh, and the window of the request's own
bucket, so ``rate_limit.remaining`` already counts this request.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from marshmallow import Schema, fields

from app.api import ratelimit
from app.api.guard import current_call
from app.catalogue import ALL_ABILITIES, FIELD_GROUPS
from app.extensions import db
from app.models.api_keys import RATE_LIMIT_MAX, RATE_LIMIT_MIN, ApiKey
from app.models.types import utcnow
from app.schemas import fields as doc_fields

ENDPOINT = "key"  # "api.key" in ``app.catalogue.KEY_ONLY_ENDPOINTS``
PATH = "/key"
ACTIVE = "active"
ROLLING = "rolling"


class OwnerSchema(Schema):
    """Who the key belongs to."""

    name = doc_fields.text("The owner's display name (a person or a system account).", "Amazon SP-API sync")


class RateLimitSchema(Schema):
    """The key's limit and where its bucket stands after this request."""

    limit = fields.Integer(
        required=True,
        metadata={
            "description": "Requests per minute this key may make.",
            "example": 60,
            "minimum": RATE_LIMIT_MIN,
            "maximum": RATE_LIMIT_MAX,
        },
    )
    remaining = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "Requests left in the current window, this one counted (null when the "
            "server runs without rate limiting).",
            "example": 59,
            "minimum": 0,
        },
    )
    reset = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "When the window frees up again, as Unix epoch seconds (UTC), like "
            "`X-RateLimit-Reset` (null without rate limiting).",
            "example": 1795772460,
            "minimum": 0,
        },
    )


class ScopeSchema(Schema):
    """The key's data scope (SPEC §16): which records and fields it may read; empty lists narrow nothing."""

    warehouses = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Codes of the warehouses whose records this key sees in Inventory, Purchase "
            "Orders, Sales Orders, Return Orders, Replenishment Plan and Warehouses; empty: all.",
            "example": ["TOR1"],
        },
    )
    marketplaces = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Amazon marketplaces whose Sales and Return Orders this key sees; empty: all.",
            "example": ["Amazon.ca"],
        },
    )
    hidden_fields = fields.List(
        fields.String(metadata={"enum": list(FIELD_GROUPS)}),
        required=True,
        metadata={
            "description": "Field groups left out of every record this key reads (nested lines "
            "included): `costs`, `buyer-details`, `contact-details`; empty: none.",
            "example": ["costs"],
        },
    )


class KeyInfoSchema(Schema):
    """The calling key: identity, owner, abilities, limit, expiry, status, allowed IPs and scope."""

    prefix = doc_fields.text(
        "The key's public prefix (`sgk_` + key id); never the secret.",
        "sgk_AbCdEf12",
        pattern="^sgk_[0-9A-Za-z]{8}$",
    )
    name = doc_fields.text("What the key is for, as an admin named it.", "Warehouse sync")
    owner = fields.Nested(OwnerSchema, required=True)
    abilities = fields.List(
        fields.String(metadata={"enum": list(ALL_ABILITIES)}),
        required=True,
        metadata={
            "description": "The abilities this key holds.",
            "example": ["products:list", "products:show"],
        },
    )
    rate_limit = fields.Nested(RateLimitSchema, required=True)
    # Always present, null when unset (so ``required`` as well as nullable).
    expires_at = doc_fields.UTCTimestamp(
        required=True,
        allow_none=True,
        metadata={
            "description": "When the key stops working, or null when it never expires.",
            "example": "2027-01-31T00:00:00Z",
        },
    )
    status = fields.String(
        required=True,
        metadata={
            "description": "`active`, or `rolling` when the key was replaced by a roll and stops "
            "working at `sunset_at`.",
            "example": ACTIVE,
            "enum": [ACTIVE, ROLLING],
        },
    )
    sunset_at = doc_fields.UTCTimestamp(
        required=True,
        allow_none=True,
        metadata={
            "description": "The cutover of a rolling key (when it stops working), else null.",
            "example": "2027-01-01T12:00:00Z",
        },
    )
    allowed_ips = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "The addresses and CIDR ranges this key may be used from; empty: any address.",
            "example": ["203.0.113.0/24"],
        },
    )
    scope = fields.Nested(ScopeSchema, required=True)


class KeyInfoEnvelopeSchema(Schema):
    """The introspection answer: ``{"data": {...}}``."""

    data = fields.Nested(KeyInfoSchema, required=True)


_envelope = KeyInfoEnvelopeSchema()


def key_info(key: ApiKey, window: ratelimit.Window | None, now: datetime) -> dict[str, Any]:
    """The introspection document of ``key``, with its bucket as ``window`` left it."""
    rolling = key.is_rolling(now)
    return {
        "prefix": key.prefix,
        "name": key.name,
        "owner": {"name": key.owner.name},
        "abilities": list(key.abilities),
        "rate_limit": {
            "limit": key.rate_limit,
            "remaining": window.remaining if window is not None else None,
            "reset": math.ceil(window.reset) if window is not None else None,
        },
        "expires_at": key.expires_at,
        "status": ROLLING if rolling else ACTIVE,
        "sunset_at": key.sunset_at if rolling else None,
        "allowed_ips": list(key.allowed_ips or []),
        "scope": {
            "warehouses": list(key.warehouses or []),
            "marketplaces": list(key.marketplaces or []),
            "hidden_fields": list(key.hidden_fields or []),
        },
    }


def show_key() -> Response:
    """Describe the calling key: prefix, name, owner, abilities, limit, expiry, status, allowed IPs, scope."""
    call = current_call()
    key = db.session.get(ApiKey, call.key.id if call.key is not None else None)
    assert key is not None  # the guard has just read it
    return jsonify(_envelope.dump({"data": key_info(key, call.window, utcnow())}))


def register_views(bp: Blueprint) -> None:
    """Register ``GET /api/v1/key``."""
    bp.add_url_rule(PATH, endpoint=ENDPOINT, view_func=show_key, methods=["GET"])
