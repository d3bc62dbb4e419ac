"""The key search gives the same answers whichever plan it takes, in the panel and the CLI.

On SQLite, queries of 3+ characters go through the FTS5 trigram index (kept in step by
triggers); PostgreSQL uses its pg_trgm indexes; short queries scan. These run on both databases.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from app.keys import search
from tests.panel.conftest import PanelClient

# Both databases: key search: FTS on SQLite, trigram index on PostgreSQL.
pytestmark = pytest.mark.both_databases

PREFIX = re.compile(r"sgk_[0-9A-Za-z]{8}")


def _names(panel: PanelClient, query: str, **params: str) -> list[str]:
    response = panel.client.get(
        "/settings/api-keys", query_string={"q": query, **params}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    names = re.findall(r'class="key-name"><a href="[^"]*">([^<]*)</a></td>', response.text)
    return sorted(html.unescape(name) for name in names)


def test_renamed_key_is_found_by_its_new_name_only(signed_in: PanelClient, make_key: Any) -> None:
    key = make_key(name="Original scanner").key
    signed_in.post(
        f"/settings/api-keys/{key.prefix}",
        {"name": "Renamed bridge", "abilities": ["products:list"], "rate_limit": "60", "expires_at": ""},
    )
    assert _names(signed_in, "renamed") == ["Renamed bridge"]
    assert _names(signed_in, "original") == []


def test_search_is_case_insensitive_and_finds_inner_substrings(signed_in: PanelClient, make_key: Any) -> None:
    make_key(name="Amazon SP-API bridge")
    for query in ("AMAZON", "sp-api", "zon sp", "bridge", "API BRI"):
        assert _names(signed_in, query) == ["Amazon SP-API bridge"], query


def test_quotes_and_fts_operators_are_literal(signed_in: PanelClient, make_key: Any) -> None:
    make_key(name='Say "hi" NEAR AND OR *')
    make_key(name="Unrelated")
    for query in ('"hi"', 'say "', "NEAR AND", "OR *", "*"):
        assert _names(signed_in, query) == ['Say "hi" NEAR AND OR *'], query
    assert _names(signed_in, '"unrelated') == []


def test_prefix_search_finds_the_key(signed_in: PanelClient, make_key: Any) -> None:
    key = make_key(name="By prefix").key
    make_key(name="Other")
    assert _names(signed_in, key.prefix) == ["By prefix"]
    assert _names(signed_in, key.prefix[4:10]) == ["By prefix"]


def test_owner_matches_join_name_and_prefix_matches(
    signed_in: PanelClient, make_key: Any, make_user: Any
) -> None:
    carol = make_user(email="carol@example.com", name="Carol Finance")
    make_key(name="Ledger export", owner=carol)
    make_key(name="Finance dashboard")
    make_key(name="Unrelated")
    assert _names(signed_in, "finance") == ["Finance dashboard", "Ledger export"]
    assert _names(signed_in, "carol@") == ["Ledger export"]


@pytest.mark.parametrize("sparse_limit", [0, 1, 4, 2_000])
def test_dense_and_sparse_plans_agree(
    signed_in: PanelClient, make_key: Any, monkeypatch: pytest.MonkeyPatch, sparse_limit: int
) -> None:
    monkeypatch.setattr(search, "SPARSE_LIMIT", sparse_limit)
    for n in range(4):
        make_key(name=f"Batch job {n}")
    revoked = make_key(name="Batch job revoked").key
    signed_in.delete(f"/settings/api-keys/{revoked.prefix}")
    make_key(name="Other")
    expected = [f"Batch job {n}" for n in range(4)]
    assert _names(signed_in, "batch job") == expected
    assert _names(signed_in, "batch job", status="revoked") == ["Batch job revoked"]
    assert _names(signed_in, "batch job", sort="name", dir="desc") == expected


def test_short_queries_still_search(signed_in: PanelClient, make_key: Any) -> None:
    # Two characters, one of them outside base62: a random key prefix cannot hold them (with
    # "xy", 1 run in ~150 failed when the other key's prefix happened to contain it).
    make_key(name="Xy-feed")
    make_key(name="Other")
    assert _names(signed_in, "y-") == ["Xy-feed"]


def _panel_prefixes(panel: PanelClient, query: str) -> list[str]:
    response = panel.get("/settings/api-keys", htmx=True, query_string={"q": query})
    assert response.status_code == 200
    return sorted(re.findall(r'<tr id="key-(sgk_[0-9A-Za-z]{8})"', response.text))


def _cli_prefixes(runner: Any, query: str) -> list[str]:
    result = runner.invoke(args=["keys", "list", "--search", query])
    assert result.exit_code == 0, result.output
    return sorted(PREFIX.findall(result.stdout))


@pytest.mark.parametrize("sparse_limit", [2, 2_000])
def test_panel_list_and_cli_list_give_the_same_keys_for_the_same_query(
    signed_in: PanelClient,
    runner: Any,
    make_key: Any,
    make_user: Any,
    monkeypatch: pytest.MonkeyPatch,
    sparse_limit: int,
) -> None:
    monkeypatch.setattr(search, "SPARSE_LIMIT", sparse_limit)
    finance = make_user(email="carol@finance.example", name="Carol Finance")
    make_key(name="Ärger export", owner=finance)
    make_key(name="100% sync")
    make_key(name="Nightly_job", owner=finance)
    make_key(name="Finance dashboard")
    sample = make_key(name="Unrelated").key
    queries = ["ärger", "ÄRGER", "ärg", "EXPORT", "%", "100%", "_", "y_j", "finance", "carol@", "zzz"]
    queries += [sample.prefix, sample.prefix[4:9].lower()]
    for query in queries:
        assert _panel_prefixes(signed_in, query) == _cli_prefixes(runner, query), query
    # The same rule on both paths, not merely the same mistake: a literal % matches one key.
    assert len(_cli_prefixes(runner, "100%")) == 1


def test_key_matched_only_by_its_owner_is_found_beside_keys_matched_twice(
    signed_in: PanelClient, make_key: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keys that match by name and by owner come back twice from the look-up; counting them
    # once must not hide the key that only its owner matches.
    monkeypatch.setattr(search, "SPARSE_LIMIT", 4)
    batch = make_user(email="batch@example.com", name="Batch owner")
    for n in range(3):
        make_key(name=f"Batch job {n}", owner=batch)
    make_key(name="Nightly export", owner=batch)
    make_key(name="Other")
    assert _names(signed_in, "batch") == ["Batch job 0", "Batch job 1", "Batch job 2", "Nightly export"]
