"""Indexes behind the API Keys table: sorting, and substring search by trigrams.

A ``LIKE '%q%'`` over name and prefix scans every key (150-250 ms at 100,000 keys).
Trigram indexes answer it from an index for queries of 3+ characters:

- SQLite: an FTS5 table (trigram tokenizer) over name and prefix, kept in step with
  ``api_keys`` by triggers.
- PostgreSQL: pg_trgm GIN indexes on name and prefix, which the ``ILIKE`` that
  ``icontains`` compiles to there uses as it is.

``create_all`` builds them through the DDL events that ``register_ddl`` attaches (called by
``app.db.init_app``); migration ``b7e31f0a9c42`` builds them for deployed databases (and
env.py keeps autogenerate away from them).
"""

from __future__ import annotations

from sqlalchemy import DDL, ColumnElement, Integer, Select, column, event, or_, select, text, union_all
from sqlalchemy.orm import Session

from app.models.api_keys import ApiKey
from app.models.users import User

# Trigrams need 3 characters; shorter queries use LIKE (they match many keys, so the
# ordered scan stops early anyway).
MIN_INDEXED_LENGTH = 3
# Up to this many matches, sorting the matches beats walking an ordered index.
SPARSE_LIMIT = 2_000

CREATE_STATEMENTS = (
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
REBUILD_STATEMENT = "INSERT INTO api_keys_fts(api_keys_fts) VALUES ('rebuild')"
DROP_STATEMENTS = (
    "DROP TRIGGER IF EXISTS api_keys_fts_ai",
    "DROP TRIGGER IF EXISTS api_keys_fts_ad",
    "DROP TRIGGER IF EXISTS api_keys_fts_au",
    "DROP TABLE IF EXISTS api_keys_fts",
)

PG_EXTENSION_STATEMENT = "CREATE EXTENSION IF NOT EXISTS pg_trgm"
PG_CREATE_STATEMENTS = (
    "CREATE INDEX IF NOT EXISTS ix_api_keys_name_trgm ON api_keys USING gin (name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_api_keys_prefix_trgm ON api_keys USING gin (prefix gin_trgm_ops)",
)
PG_DROP_STATEMENTS = (
    "DROP INDEX IF EXISTS ix_api_keys_name_trgm",
    "DROP INDEX IF EXISTS ix_api_keys_prefix_trgm",
)


def _ddl_events() -> list[tuple[object, str, DDL]]:
    """(table, event, DDL) for every statement above, each run only on its own database."""
    events: list[tuple[object, str, DDL]] = [
        (User.__table__, "before_create", DDL(PG_EXTENSION_STATEMENT).execute_if(dialect="postgresql"))
    ]
    events += [
        (ApiKey.__table__, "after_create", DDL(sql).execute_if(dialect="postgresql"))
        for sql in PG_CREATE_STATEMENTS
    ]
    events += [
        (ApiKey.__table__, "after_create", DDL(sql).execute_if(dialect="sqlite")) for sql in CREATE_STATEMENTS
    ]
    events += [
        (ApiKey.__table__, "before_drop", DDL(sql).execute_if(dialect="sqlite")) for sql in DROP_STATEMENTS
    ]
    return events


def register_ddl() -> None:
    """Make ``create_all``/``drop_all`` build and drop the search indexes (idempotent)."""
    if ApiKey.__table__.info.get("search_ddl_registered"):
        return
    for target, name, ddl in _ddl_events():
        event.listen(target, name, ddl)
    ApiKey.__table__.info["search_ddl_registered"] = True


def fts_phrase(query: str) -> str:
    """``query`` as one FTS5 phrase: every character literal (no operators, no wildcards)."""
    return '"' + query.replace('"', '""') + '"'


def _text_matches(query: str, dialect_name: str) -> Select[tuple[int]]:
    if dialect_name == "sqlite" and len(query) >= MIN_INDEXED_LENGTH:
        fts = (
            text("SELECT rowid AS id FROM api_keys_fts WHERE api_keys_fts MATCH :fts_phrase")
            .bindparams(fts_phrase=fts_phrase(query))
            .columns(column("id", Integer))
        )
        return select(fts.subquery().c.id)
    if dialect_name == "sqlite":
        # Too short for trigrams: an unordered scan of two narrow columns, stopped early by
        # the caller's LIMIT. Plain LIKE: on SQLite it already ignores ASCII case, exactly as
        # lower() does, at a third of ILIKE's cost. Measured for a 1-character query matching
        # none of 100,000 keys: ~35 ms, against 175 ms walking the sort order with the join.
        return select(ApiKey.id).where(
            or_(ApiKey.name.contains(query, autoescape=True), ApiKey.prefix.contains(query, autoescape=True))
        )
    # PostgreSQL: a BitmapOr of the two pg_trgm GIN indexes (a scan below 3 characters).
    return select(ApiKey.id).where(
        or_(ApiKey.name.icontains(query, autoescape=True), ApiKey.prefix.icontains(query, autoescape=True))
    )


def _matching_ids(query: str, dialect_name: str) -> Select[tuple[int]]:
    """Ids of keys whose name or prefix contains ``query`` (trigram index), or whose owner's
    name or email does (the users table is small, so LIKE there is cheap). UNION ALL streams,
    so a LIMIT stops it early; an id may repeat, which ``IN`` does not mind."""
    owners = select(User.id).where(
        or_(User.name.icontains(query, autoescape=True), User.email.icontains(query, autoescape=True))
    )
    by_owner = select(ApiKey.id).where(ApiKey.owner_id.in_(owners))
    matching = union_all(_text_matches(query, dialect_name), by_owner).subquery()
    return select(matching.c.id)


def sparse_matches(query: str, session: Session, dialect_name: str) -> ColumnElement[bool] | None:
    """``id IN (...)`` for the keys matching ``query`` when there are few of them, else None.

    Few matches: sorting just those is fastest. Many matches (None): the caller's plain
    ``LIKE`` walking the sort order finds a page's worth after a short stretch and stops.
    """
    ids = set(session.scalars(_matching_ids(query, dialect_name).limit(SPARSE_LIMIT + 1)))
    if len(ids) > SPARSE_LIMIT:
        return None
    return ApiKey.id.in_(sorted(ids))
