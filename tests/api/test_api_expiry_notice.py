"""Expiry notices (SPEC §12): every response to a key with an expiry names the expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from app.keys import service
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from tests.api.api_helpers import assert_error

# Both databases: expiry is compared in SQL (naive UTC on SQLite, timestamptz on PostgreSQL).
pytestmark = pytest.mark.both_databases

HEADER = "Stockgate-Key-Expires-At"
EXPIRY = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_every_answer_to_a_key_with_an_expiry_carries_it(call, make_key):
    """200, 404, 400, 403 and 429 alike, once the key is identified: ISO 8601 UTC with Z."""
    created = make_key(abilities=["products:list", "products:show"], expires_at=EXPIRY, rate_limit=5)
    key = created.raw_key
    responses = [
        call("/api/v1/products", key),
        call("/api/v1/key", key),
        call("/api/v1/products/999999", key),
        call("/api/v1/products?per_page=0", key),
        call("/api/v1/brands", key),
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 400, 403]
    responses.append(call("/api/v1/products", key))
    assert_error(responses[-1], 429, "rate_limited")
    assert {r.headers.get(HEADER) for r in responses} == {"2031-05-06T07:08:09Z"}


def test_key_without_an_expiry_sends_no_header(call, make_key):
    """No expiry, no header."""
    assert HEADER not in call("/api/v1/products", make_key().raw_key).headers


def test_unidentified_requests_send_no_header(call, make_key):
    """A wrong secret or a missing key identifies no key: nothing is said about any expiry."""
    created = make_key(expires_at=EXPIRY)
    wrong = created.raw_key[:13] + "0" * 32 + created.raw_key[45:]
    assert HEADER not in call("/api/v1/products").headers
    assert HEADER not in call("/api/v1/products", wrong).headers


def test_a_refused_but_proven_key_still_hears_of_its_expiry(app, call, make_key):
    """Inactive or expired: the holder of the secret sees when the key expires (or expired)."""
    created = make_key(expires_at=EXPIRY)
    with app.app_context():
        service.deactivate_key(created.key.prefix, actor="tests")
    inactive = call("/api/v1/products", created.raw_key)
    assert_error(inactive, 401, "key_inactive")
    assert inactive.headers[HEADER] == "2031-05-06T07:08:09Z"
    past = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    with app.app_context():
        service.activate_key(created.key.prefix, actor="tests")
        db.session.execute(update(ApiKey).where(ApiKey.id == created.key.id).values(expires_at=past))
        db.session.commit()
    expired = call("/api/v1/products", created.raw_key)
    assert_error(expired, 401, "key_expired")
    assert expired.headers[HEADER] == past.isoformat().replace("+00:00", "Z")


def test_a_changed_expiry_shows_on_the_next_response(app, call, make_key):
    """The header is read fresh with the key's row."""
    created = make_key(expires_at=EXPIRY)
    later = datetime(2032, 1, 2, 3, 4, tzinfo=UTC)
    with app.app_context():
        service.edit_key(created.key.prefix, expires_at=later, actor="tests")
    assert call("/api/v1/products", created.raw_key).headers[HEADER] == "2032-01-02T03:04:00Z"
