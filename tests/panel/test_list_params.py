"""The one parser of the panel lists' query strings (API Keys, Audit Log): no app needed."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from app.panel.audit_log import LogParams
from app.panel.list_params import MAX_PAGE
from app.panel.listing import ListParams


def test_an_old_bookmark_with_unknown_values_opens_with_the_defaults() -> None:
    args = MultiDict({"status": "bogus", "sort": "key_hash", "dir": "sideways", "page": "-3"})
    assert ListParams.from_args(args) == ListParams()


def test_a_hostile_value_reads_as_the_default_and_is_refused_by_its_label() -> None:
    args = MultiDict({"q": "a\x00b", "page": "\uff12"})
    assert LogParams.from_args(args) == LogParams()
    assert LogParams.argument_errors(args) == [
        "Search: Contains a control character (U+0000); remove it.",
        "Page: Not a whole number (use the digits 0-9 only).",
    ]


def test_both_lists_read_the_page_the_same_way() -> None:
    for raw, page in (("2", 2), ("0", 1), (str(MAX_PAGE * 10), MAX_PAGE), ("1_0", 1)):
        args = MultiDict({"page": raw})
        assert ListParams.from_args(args).page == LogParams.from_args(args).page == page


def test_the_url_leaves_defaults_out_and_keeps_the_sort_whole() -> None:
    params = ListParams(q="batch", direction="asc")
    assert params.query_args() == {"q": "batch", "sort": "created_at", "dir": "asc"}
    assert params.query_args(page=2, direction="desc") == {"q": "batch", "page": 2}
    assert LogParams(q="", page=3).query_args() == {"page": 3}
