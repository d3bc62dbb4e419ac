"""The key search: which keys match a query, and the indexes that answer it quickly.

A key matches when its name, its key prefix, or its owner's name or email contains the query,
ignoring case, with ``%`` and ``_`` matching literally (``_contains``: ``ILIKE`` on PostgreSQL;
on SQLite ``LIKE``, which ignores the case of ASCII letters only, as ``lower()`` does there).
``keys.service.search_keys`` is the one function that searches keys: the panel's table and
``flask keys list --search`` both call it, so they always agree.

``matching`` answers with one of two conditions that select the same keys:

- few matches (at most ``SPARSE_LIMIT``): their ids, read through the trigram indexes, so
  the caller sorts just those (``_among``);
- many matches: the plain condition, so the caller's ``ORDER BY ... LIMIT`` walks its sort
  order and stops after a page's worth (with many matches that stretch is short).

A bounded look-up (at most ``SPARSE_LIMIT + 1`` ids) chooses. Neither database can estimate
how many keys a substring matches, nor where they sit in the sort order, well enough to choose
itself: left alone, a query matching nothing, or matching keys made long ago, walks every key.
The numbers are in bench/README.md (issue 25).

The indexes: on PostgreSQL, pg_trgm GIN indexes on name and prefix, declared in ``ApiKey``
(``ILIKE`` uses them as it is); on SQLite, an FTS5 trigram table over name and prefix, kept in
step by triggers (a virtual table is nothing a model can declare). ``register_ddl`` makes
``create_all`` build what the models cannot (the pg_trgm extension, the FTS5 table);
migration ``b7e31f0a9c42`` built all of it for deployed databases.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    DDL,
    ColumnElement,
    Integer,
    Select,
    any_,
    bindparam,
    column,
    event,
    false,
    func,
    or_,
    select,
    text,
    union_all,
)

from app.db import dialect
from app.extensions import db
from app.models.api_keys import ApiKey
from app.models.users import User

# No searchable field is longer than an email address (254): a longer query matches nothing.
LONGEST_SEARCHABLE = 254
# Trigrams need 3 characters; shorter queries are looked up by scanning (they match many keys,
# so the look-up usually stops early).
MIN_INDEXED_LENGTH = 3
# Up to this many matches, sorting the matches beats walking the sort order (bench/README.md).
SPARSE_LIMIT = 1_000

PG_EXTENSION_STATEMENT = "CREATE EXTENSION IF NOT EXISTS pg_trgm"
SQLITE_CREATE_STATEMENTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS api_keys_fts USING fts5("
    "name, prefix, content='api_keys', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS api_keys_fts_ai AFTER INSERT ON api_keys BEGIN "
    "INSERT INTO api_keys_fts(rowid, name, prefix) VALUES (new.id, new.name, new.prefix); END",
    "CREATE TRIGGER IF NOT EXISTS api_keys_fts_ad AFTER DELETE ON api_keys BEGIN "
    "INSERT INTO api_keys_fts(api_keys_fts, rowid, name, prefix) "
    "VALUES ('delete', old.id, old.name, old.prefix); END",
    "CREATE TRIGGER IF NOT EXISTS api_keys_fts_au AFTER UPDATE OF name, prefix ON api_keys BEGIN "
    "INSERT INTO api_keys_fts(api_keys_fts, rowid, name, prefix) "
    "VALUES ('delete', old.id, old.name, old.prefix); "
    "INSERT INTO api_keys_fts(rowid, name, prefix) VALUES (new.id, new.name, new.prefix); END",
)
SQLITE_DROP_STATEMENTS = (
    "DROP TRIGGER IF EXISTS api_keys_fts_ai",
    "DROP TRIGGER IF EXISTS api_keys_fts_ad",
    "DROP TRIGGER IF EXISTS api_keys_fts_au",
    "DROP TABLE IF EXISTS api_keys_fts",
)


def register_ddl() -> None:
    """Make ``create_all``/``drop_all`` build and drop what the models cannot declare (idempotent).

    Called by ``create_app``. The listeners sit on the shared table objects, so once per process.
    """
    table = ApiKey.__table__
    if table.info.get("search_ddl_registered"):
        return
    # Before any table: the trigram indexes declared in ApiKey need the extension.
    event.listen(
        table.metadata, "before_create", DDL(PG_EXTENSION_STATEMENT).execute_if(dialect="postgresql")
    )
    for statement in SQLITE_CREATE_STATEMENTS:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="sqlite"))
    for statement in SQLITE_DROP_STATEMENTS:
        event.listen(table, "before_drop", DDL(statement).execute_if(dialect="sqlite"))
    table.info["search_ddl_registered"] = True


def _fts_phrase(query: str) -> str:
    """``query`` as one FTS5 phrase: every character literal (no operators, no wildcards)."""
    return '"' + query.replace('"', '""') + '"'


def matching(query: str) -> ColumnElement[bool]:
    """The condition for keys matching ``query`` (already stripped, not empty).

    Runs one bounded look-up to choose between the two equivalent conditions (module docstring).
    """
    if len(query) > LONGEST_SEARCHABLE:
        return false()
    ids = list(db.session.scalars(_matching_ids(query).limit(SPARSE_LIMIT + 1)))
    # Count rows, not distinct ids: a key found twice must not hide one never read.
    if len(ids) > SPARSE_LIMIT:
        return or_(_text_condition(query), ApiKey.owner_id.in_(_owners(query)))
    return _among(sorted(set(ids)))


def _among(ids: list[int]) -> ColumnElement[bool]:
    """``id`` is one of ``ids``, in the form each database sorts few matches fastest with."""
    if dialect() == "postgresql":
        # One array parameter, read back through an InitPlan: the planner cannot count it, so
        # it sorts the matches. Counting them, it would walk the sort order expecting them
        # spread evenly, and keys made together (an import, a batch) sit at its far end.
        array = bindparam("matching_ids", ids, type_=ARRAY(Integer))
        return ApiKey.id == any_(func.array(select(func.unnest(array)).scalar_subquery()))
    # Written into the SQL (integers read from the database): fewer parameters to bind.
    return ApiKey.id.in_(bindparam("matching_ids", ids, expanding=True, literal_execute=True))


def _contains(column: ColumnElement[str], query: str) -> ColumnElement[bool]:
    """``column`` contains ``query``, ignoring case, with ``%`` and ``_`` literal: the match rule."""
    if dialect() == "sqlite":
        # SQLite's LIKE ignores ASCII case, exactly as icontains' lower() does there, at a third
        # of the cost: it counts where a short query that matches no key scans all of them.
        return column.contains(query, autoescape=True)
    return column.icontains(query, autoescape=True)


def _text_condition(query: str) -> ColumnElement[bool]:
    return or_(_contains(ApiKey.name, query), _contains(ApiKey.prefix, query))


def _owners(query: str) -> Select[tuple[int]]:
    # The users table is small: a scan of it costs little.
    return select(User.id).where(or_(_contains(User.name, query), _contains(User.email, query)))


def _matching_ids(query: str) -> Select[tuple[int]]:
    """Ids of the keys matching ``query``, through the indexes where they can answer.

    UNION ALL streams, so the caller's LIMIT stops it early; an id may come twice (a key that
    matches by name and by owner).
    """
    by_text = select(ApiKey.id).where(_text_condition(query))
    if dialect() == "sqlite" and len(query) >= MIN_INDEXED_LENGTH:
        # The FTS5 table yields candidates (it folds case more widely than LIKE); the
        # condition keeps exactly the keys it matches. A join streams, where IN (...) would
        # first collect every candidate.
        candidates = (
            text("SELECT rowid AS id FROM api_keys_fts WHERE api_keys_fts MATCH :phrase")
            .bindparams(phrase=_fts_phrase(query))
            .columns(column("id", Integer))
            .subquery()
        )
        by_text = by_text.join(candidates, candidates.c.id == ApiKey.id)
    # PostgreSQL: the pg_trgm GIN indexes answer ILIKE (a scan below 3 characters).
    by_owner = select(ApiKey.id).where(ApiKey.owner_id.in_(_owners(query)))
    matches = union_all(by_text, by_owner).subquery()
    return select(matches.c.id)
