"""Configuration read from the environment (SPEC §3).

Every setting has a safe embedded default for development (SQLite under ``instance/``,
``memory://`` rate-limit storage). ``STOCKGATE_ENV=production`` turns on secure cookies
and refuses unsafe settings with a one-line reason.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.db.engine import engine_options
from app.validation import untrusted


class ConfigError(RuntimeError):
    """An unsafe or invalid configuration; the message is one line for the operator."""


def _int_env(name: str, default: int, low: int, high: int) -> int:
    """Read an integer environment variable, refusing junk with a one-line reason."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _days_env(name: str, default: int, low: int, high: int) -> int:
    """Read a number of days written in ASCII digits (no sign, space or underscore)."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = untrusted.parse_whole_number(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of days, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} days, got {value}")
    return value


# The longest a new or rolled key may live (SPEC §15, ``app.keys.inputs.max_expiry``).
KEY_MAX_LIFETIME_DAYS_MAX = 3650


def _key_max_lifetime_days() -> int | None:
    """Read ``KEY_MAX_LIFETIME_DAYS``: unset (None, no policy) or 1-3650 days."""
    if not os.environ.get("KEY_MAX_LIFETIME_DAYS"):
        return None
    return _days_env("KEY_MAX_LIFETIME_DAYS", 0, 1, KEY_MAX_LIFETIME_DAYS_MAX)


# Usage retention (app.usage.retention). The daily counts feed the key's page, which judges
# abilities used or unused over 30 days (app.usage.reports.WINDOW_DAYS): they keep at least that.
USAGE_DAYS_MAX = 3650
USAGE_DAILY_DAYS_MIN = 30


def _usage_retention() -> dict[str, int]:
    """How long usage counts are kept: hourly rows, then daily rows at least as long."""
    hourly = _days_env("USAGE_HOURLY_DAYS", 90, 1, USAGE_DAYS_MAX)
    daily = _days_env("USAGE_DAILY_DAYS", 730, USAGE_DAILY_DAYS_MIN, USAGE_DAYS_MAX)
    if daily < hourly:
        raise ConfigError(
            f"USAGE_DAILY_DAYS ({daily}) must be at least USAGE_HOURLY_DAYS ({hourly}): "
            "the daily counts keep at least as long as the hourly ones"
        )
    return {"USAGE_HOURLY_DAYS": hourly, "USAGE_DAILY_DAYS": daily}


def _limit_env(name: str, default: str) -> str:
    """Read a rate limit such as ``20/minute``, refusing what Flask-Limiter cannot parse."""
    from limits import parse

    value = os.environ.get(name) or default
    try:
        parse(value)
    except ValueError:
        raise ConfigError(f"{name} must be a rate limit such as '20/minute', got {value!r}") from None
    return value


# Shorter secrets can be brute-forced offline from one signed session cookie.
MIN_SECRET_KEY_LENGTH = 32
# Length alone is not strength: "xxxx...", "abab..." or a key of a few characters is guessed first.
# A random key has far more: 32 random hex digits show 7 or fewer distinct about once in 25
# million draws; 32 characters of token_urlsafe show 16 or more.
MIN_SECRET_KEY_DISTINCT = 8
HOW_TO_GENERATE = "generate one with python -c 'import secrets; print(secrets.token_urlsafe(48))'"
# A host name, an IPv4 address or a bracketed IPv6 address; a leading dot trusts subdomains.
_TRUSTED_HOST = re.compile(r"\.?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\]")


def _refuse_weak_secret_key(key: str) -> None:
    """Refuse a production ``SECRET_KEY`` that is short or obviously guessable, in one line."""
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters when "
            f"STOCKGATE_ENV=production (got {len(key)}); {HOW_TO_GENERATE}"
        )
    distinct = len(set(key))
    if distinct < MIN_SECRET_KEY_DISTINCT:
        reason = f"only {distinct} distinct character{'s' if distinct > 1 else ''}"
    # (key + key).find(key, 1) is the key's shortest period: below its length, the key is one
    # shorter string repeated ("abcabcabc...").
    elif (period := (key + key).find(key, 1)) < len(key):
        reason = f"the same {period} characters repeated"
    else:
        return
    raise ConfigError(
        f"SECRET_KEY is too easy to guess when STOCKGATE_ENV=production ({reason}); {HOW_TO_GENERATE}"
    )


def _public_base_url() -> str | None:
    """Read ``PUBLIC_BASE_URL``: an http(s) origin without path, query or credentials."""
    raw = os.environ.get("PUBLIC_BASE_URL", "").strip()
    if not raw:
        return None
    problem = "must be an http(s) URL without path or query, e.g. https://stock.example.com"
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a junk port
    except ValueError:
        raise ConfigError(f"PUBLIC_BASE_URL {problem}, got {raw!r}") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or any(c.isspace() or not c.isprintable() for c in raw)
    ):
        raise ConfigError(f"PUBLIC_BASE_URL {problem}, got {raw!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _trusted_hosts() -> list[str] | None:
    """Read ``TRUSTED_HOSTS`` (comma-separated host names) for Flask's own Host check."""
    raw = os.environ.get("TRUSTED_HOSTS", "")
    hosts = [host.strip().lower() for host in raw.split(",") if host.strip()]
    for host in hosts:
        if not _TRUSTED_HOST.fullmatch(host):
            raise ConfigError(
                f"TRUSTED_HOSTS must be comma-separated host names without scheme or port "
                f"(e.g. stock.example.com,.example.org), got {host!r}"
            )
    # None, not []: Flask only checks the Host header when the setting is not None.
    return hosts or None


def _private_instance(instance_path: Path) -> None:
    """Create ``instance/`` readable by the owner alone: it holds the secret key and the database."""
    if not instance_path.exists():
        instance_path.mkdir(parents=True, mode=0o700, exist_ok=True)
        # mkdir's mode is filtered through the umask; set it exactly.
        instance_path.chmod(0o700)


def _dev_secret_key(instance_path: Path) -> str:
    """Return the development secret key, generating it once (mode 0600) into ``instance/``."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    _private_instance(instance_path)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not both write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


# Settings renamed when the per-email slow-down became a refusal (issue 24): a deployment that
# still sets one must hear about it rather than have it silently ignored.
RENAMED_SETTINGS = {
    "SIGN_IN_SLOWDOWN_AFTER": "SIGN_IN_LIMIT_PER_EMAIL",
    "SIGN_IN_SLOWDOWN_STEP_MS": "SIGN_IN_BACKOFF_STEP_SECONDS",
    "SIGN_IN_SLOWDOWN_MAX_MS": "SIGN_IN_BACKOFF_MAX_SECONDS",
}


def _panel_sign_in_settings() -> dict[str, Any]:
    """Sign-in throttling and panel session lifetimes (``app.panel.throttle``, ``.session_lifetime``)."""
    for old, new in RENAMED_SETTINGS.items():
        if os.environ.get(old):
            raise ConfigError(f"{old} was replaced by {new} (sign-ins are refused, never slowed down)")
    max_hours = _int_env("SESSION_MAX_HOURS", 12, 1, 12)
    return {
        # Hard limits, counted before the password is checked (429 beyond them).
        "SIGN_IN_LIMIT_PER_ADDRESS": _limit_env("SIGN_IN_LIMIT_PER_ADDRESS", "30 per 10 minutes"),
        "SIGN_IN_LIMIT_PER_EMAIL_ADDRESS": _limit_env("SIGN_IN_LIMIT_PER_EMAIL_ADDRESS", "5 per 10 minutes"),
        # Per email from any address: beyond it 429, except from an address the user has signed
        # in from before; Retry-After doubles from the step up to the cap (see app.panel.throttle).
        "SIGN_IN_LIMIT_PER_EMAIL": _limit_env("SIGN_IN_LIMIT_PER_EMAIL", "5 per 10 minutes"),
        "SIGN_IN_BACKOFF_STEP_SECONDS": _int_env("SIGN_IN_BACKOFF_STEP_SECONDS", 1, 1, 3600),
        "SIGN_IN_BACKOFF_MAX_SECONDS": _int_env("SIGN_IN_BACKOFF_MAX_SECONDS", 60, 1, 3600),
        "SESSION_IDLE_MINUTES": _int_env("SESSION_IDLE_MINUTES", 30, 1, 12 * 60),
        "SESSION_MAX_HOURS": max_hours,
        # Enforced on the server; these only keep any cookie from outliving a session.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=max_hours),
        "REMEMBER_COOKIE_DURATION": timedelta(hours=max_hours),
    }


def load_config(instance_path: str) -> dict[str, Any]:
    """Build the Flask config mapping from the environment variables of SPEC §3."""
    instance = Path(instance_path)
    env = os.environ.get("STOCKGATE_ENV", "development")
    if env not in ("development", "production"):
        raise ConfigError(f"STOCKGATE_ENV must be 'development' or 'production', got {env!r}")
    production = env == "production"

    secret_key = os.environ.get("SECRET_KEY")
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY must be set when STOCKGATE_ENV=production")
        secret_key = _dev_secret_key(instance)
    elif production:
        _refuse_weak_secret_key(secret_key)

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        # The embedded SQLite database lives in instance/, which only its owner may read.
        _private_instance(instance)
        database_url = f"sqlite:///{instance / 'stockgate.db'}"
    if database_url.startswith("postgres://") or database_url.startswith("postgresql://"):
        # SQLAlchemy's default PostgreSQL driver name is ambiguous across versions; be explicit.
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]

    try:
        make_url(database_url)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL is not a database URL: {database_url.split('@')[-1]!r}") from None
    storage_uri = os.environ.get("RATELIMIT_STORAGE_URI") or "memory://"
    scheme = storage_uri.split("://", 1)[0] if "://" in storage_uri else ""
    if scheme not in ("memory", "redis", "rediss", "redis+sentinel", "redis+cluster", "redis+unix"):
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI must be memory:// or redis://host:port/db, got {storage_uri!r}"
        )

    return {
        "STOCKGATE_ENV": env,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
        "RATELIMIT_STORAGE_URI": storage_uri,
        # Off: Flask-Limiter's headers put Retry-After on every 200. The docs, the one part it
        # limits, send their own (app.docs.views.limit_headers); the API sends its own too.
        "RATELIMIT_HEADERS_ENABLED": False,
        # Flask-Compress (SPEC §14): gzip only (what every HTTP client speaks), JSON only (the
        # API and the OpenAPI document; never text/event-stream or already-compressed bodies),
        # from 1 KB (below it gzip's header eats the gain), never streamed bodies. A compressed
        # answer's strong ETag gets a ":gzip" suffix and If-None-Match is evaluated again after
        # compression, so a gzip and an identity body never share a validator. Not registered
        # app-wide: only the JSON blueprints (api, docs) hook it, so /healthz and the panel do
        # not pay for it (docs/decisions/005-sync.md).
        "COMPRESS_REGISTER": False,
        "COMPRESS_ALGORITHM": ["gzip"],
        "COMPRESS_MIMETYPES": ["application/json"],
        "COMPRESS_MIN_SIZE": 1024,
        "COMPRESS_STREAMS": False,
        "COMPRESS_EVALUATE_CONDITIONAL_REQUEST": True,
        # Exact per-key limits (see app.api.guard); the bucket keeps one entry per request.
        "RATELIMIT_STRATEGY": "moving-window",
        # Bounded requests when Redis is slow or gone; storage errors become StorageError,
        # which the API answers with 503 (fail closed, see app.api.guard).
        "RATELIMIT_STORAGE_OPTIONS": {
            "socket_timeout": 0.5,
            "socket_connect_timeout": 0.5,
            "wrap_exceptions": True,
        },
        # Refused API requests allowed per client address before bcrypt is no longer run.
        "API_AUTH_FAILURE_LIMIT": _limit_env("API_AUTH_FAILURE_LIMIT", "20/minute"),
        # Concurrent bcrypt checks of API keys per process; beyond it 503 (see app.api.ratelimit).
        # 4 = waitress's threads, so `make run` never refuses a burst of one new key.
        "API_BCRYPT_CONCURRENCY": _int_env("API_BCRYPT_CONCURRENCY", 4, 1, 256),
        "API_KEY_BCRYPT_ROUNDS": _int_env("API_KEY_BCRYPT_ROUNDS", 12, 4, 31),
        "PASSWORD_BCRYPT_ROUNDS": _int_env("PASSWORD_BCRYPT_ROUNDS", 12, 4, 31),
        # Bounded so a flood of distinct keys cannot grow memory without limit.
        "PROVEN_KEY_CACHE_SIZE": _int_env("PROVEN_KEY_CACHE_SIZE", 10_000, 1, 10_000_000),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        # A panel tab left open must keep working: tie CSRF tokens to the session instead.
        "WTF_CSRF_TIME_LIMIT": None,
        # Reverse proxies in front of the app: 0 trusts no X-Forwarded-* header at all.
        "PROXY_FIX_HOPS": _int_env("PROXY_FIX_HOPS", 0, 0, 10),
        **_panel_sign_in_settings(),
        # X-Forwarded-Host is its own opt-in: a proxy that passes it through unchecked would
        # let any client choose the host the app believes it is served on.
        "PROXY_FIX_X_HOST": _int_env("PROXY_FIX_X_HOST", 0, 0, 10),
        # Absolute URLs (OpenAPI servers, docs curl lines, API links) use this origin, never
        # the request's Host; unset, they are relative.
        "PUBLIC_BASE_URL": _public_base_url(),
        # Flask 3.1 answers a Host header outside this list with 400.
        "TRUSTED_HOSTS": _trusted_hosts(),
        # Usage counts (app.usage) are written to the database at least this often, per process;
        # 0: only on shutdown and before a read (the tests flush explicitly).
        "USAGE_FLUSH_SECONDS": _int_env("USAGE_FLUSH_SECONDS", 10, 0, 3600),
        # Older usage rows are deleted by the periodic flush and by `flask usage prune`.
        **_usage_retention(),
        # Unset: keys may live for ever. Set: every new or rolled key expires within this many days.
        "KEY_MAX_LIFETIME_DAYS": _key_max_lifetime_days(),
        # Per client address, for /api/docs and /api/openapi.{json,yaml}.
        "DOCS_RATE_LIMIT": _limit_env("DOCS_RATE_LIMIT", "60/minute"),
    }
