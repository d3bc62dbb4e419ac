"""The lists' columns, status options and pager come from the Python lists, not template copies."""

from __future__ import annotations

from typing import Any

import pytest

from app.keys.service import STATUS_FILTERS
from app.panel import audit_log, listing
from tests.panel.conftest import PanelClient


def test_the_status_filter_offers_exactly_the_statuses_the_service_filters_by() -> None:
    assert set(listing.STATUS_OPTIONS) == set(STATUS_FILTERS)


def test_every_column_of_the_keys_table_sorts_by_its_own_key() -> None:
    assert set(listing.COLUMNS) <= set(listing.SORT_COLUMNS)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_label_changed_in_python_shows_in_the_header_the_cells_and_the_filter(
    signed_in: PanelClient, make_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_key(name="Nightly export")
    monkeypatch.setitem(listing.COLUMNS, "owner", "Holder")
    monkeypatch.setitem(listing.STATUS_OPTIONS, "revoked", "Revoked keys")
    monkeypatch.setitem(audit_log.COLUMNS, "actor", "Who")

    keys = signed_in.get("/settings/api-keys").text
    assert ">Holder</a>" in keys and 'data-label="Holder"' in keys
    assert '<option value="revoked" >Revoked keys</option>' in keys

    log = signed_in.get("/settings/audit-log").text
    assert '<th scope="col">Who</th>' in log and 'data-label="Who"' in log
