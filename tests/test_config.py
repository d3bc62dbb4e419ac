"""Configuration from the environment: safe defaults, unsafe settings refused in one line."""

import os
import secrets
import stat

import pytest

from app.config import ConfigError, load_config


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "DATABASE_URL",
        "RATELIMIT_STORAGE_URI",
        "SECRET_KEY",
        "STOCKGATE_ENV",
        "API_KEY_BCRYPT_ROUNDS",
        "PUBLIC_BASE_URL",
        "TRUSTED_HOSTS",
        "PROXY_FIX_HOPS",
        "PROXY_FIX_X_HOST",
        "DOCS_RATE_LIMIT",
    ):
        monkeypatch.delenv(name, raising=False)


def test_development_defaults(tmp_path):
    """SQLite under instance/, memory:// limits, a secret key generated once."""
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'stockgate.db'}"
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["API_KEY_BCRYPT_ROUNDS"] == 12
    assert config["SESSION_COOKIE_SECURE"] is False
    assert (tmp_path / "secret_key").read_text() == config["SECRET_KEY"]
    assert load_config(str(tmp_path))["SECRET_KEY"] == config["SECRET_KEY"]


# Shaped like what secrets.token_urlsafe(32) prints.
STRONG_KEY = "mZ0rq1cWQ2v7kJ8x_T3bYpL9sN4eH6uA-GdF5iVoRwC"


def test_production_requires_a_secret_key(tmp_path, monkeypatch):
    """Production without SECRET_KEY fails at start-up with a one-line reason."""
    monkeypatch.setenv("STOCKGATE_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        load_config(str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] is True


def test_postgres_urls_use_psycopg3(tmp_path, monkeypatch):
    """postgresql:// URLs are pinned to the psycopg 3 driver."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/stockgate")
    assert load_config(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/stockgate"


@pytest.mark.parametrize(
    "name,value,needle",
    [
        ("API_KEY_BCRYPT_ROUNDS", "abc", "must be an integer"),
        ("API_KEY_BCRYPT_ROUNDS", "3", "between 4 and 31"),
        ("API_KEY_BCRYPT_ROUNDS", "32", "between 4 and 31"),
        ("STOCKGATE_ENV", "staging", "STOCKGATE_ENV"),
        ("API_AUTH_FAILURE_LIMIT", "lots", "API_AUTH_FAILURE_LIMIT"),
        ("DATABASE_URL", "nonsense", "DATABASE_URL"),
        ("RATELIMIT_STORAGE_URI", "nonsense", "RATELIMIT_STORAGE_URI"),
        ("RATELIMIT_STORAGE_URI", "memcached://x:1", "RATELIMIT_STORAGE_URI"),
        ("PROXY_FIX_HOPS", "-1", "PROXY_FIX_HOPS"),
        ("PROVEN_KEY_CACHE_SIZE", "0", "PROVEN_KEY_CACHE_SIZE"),
        ("API_BCRYPT_CONCURRENCY", "0", "API_BCRYPT_CONCURRENCY must be between 1 and 256"),
        ("API_BCRYPT_CONCURRENCY", "two", "API_BCRYPT_CONCURRENCY must be an integer"),
        ("PROXY_FIX_X_HOST", "yes", "PROXY_FIX_X_HOST"),
        ("DOCS_RATE_LIMIT", "plenty", "DOCS_RATE_LIMIT"),
        ("PUBLIC_BASE_URL", "stock.example.com", "PUBLIC_BASE_URL"),
        ("PUBLIC_BASE_URL", "ftp://stock.example.com", "PUBLIC_BASE_URL"),
        ("PUBLIC_BASE_URL", "https://stock.example.com/api", "PUBLIC_BASE_URL"),
        ("PUBLIC_BASE_URL", "https://stock.example.com/?x=1", "PUBLIC_BASE_URL"),
        ("PUBLIC_BASE_URL", "https://user:pw@stock.example.com", "PUBLIC_BASE_URL"),
        ("PUBLIC_BASE_URL", "https://stock.example.com:http", "PUBLIC_BASE_URL"),
        ("PUBLIC_BASE_URL", "https://", "PUBLIC_BASE_URL"),
        ("TRUSTED_HOSTS", "https://stock.example.com", "TRUSTED_HOSTS"),
        ("TRUSTED_HOSTS", "stock.example.com:8443", "TRUSTED_HOSTS"),
        ("TRUSTED_HOSTS", "stock.example.com/x", "TRUSTED_HOSTS"),
        ("USAGE_HOURLY_DAYS", "0", "USAGE_HOURLY_DAYS must be between 1 and 3650 days, got 0"),
        ("USAGE_HOURLY_DAYS", "3651", "USAGE_HOURLY_DAYS must be between 1 and 3650 days"),
        ("USAGE_HOURLY_DAYS", "ninety", "USAGE_HOURLY_DAYS must be a whole number of days, got 'ninety'"),
        ("USAGE_HOURLY_DAYS", "-5", "USAGE_HOURLY_DAYS must be between 1 and 3650 days, got -5"),
        ("USAGE_HOURLY_DAYS", "1_0", "USAGE_HOURLY_DAYS must be a whole number of days"),
        ("USAGE_DAILY_DAYS", " 90", "USAGE_DAILY_DAYS must be a whole number of days"),
        ("USAGE_DAILY_DAYS", "\uff19\uff10", "USAGE_DAILY_DAYS must be a whole number of days"),  # fullwidth
        ("USAGE_DAILY_DAYS", "29", "USAGE_DAILY_DAYS must be between 30 and 3650 days, got 29"),
        ("KEY_MAX_LIFETIME_DAYS", "0", "KEY_MAX_LIFETIME_DAYS must be between 1 and 3650 days, got 0"),
        ("KEY_MAX_LIFETIME_DAYS", "3651", "KEY_MAX_LIFETIME_DAYS must be between 1 and 3650 days, got 3651"),
        ("KEY_MAX_LIFETIME_DAYS", "90d", "KEY_MAX_LIFETIME_DAYS must be a whole number of days, got '90d'"),
        ("USAGE_DAILY_DAYS", "60", r"USAGE_DAILY_DAYS \(60\) must be at least USAGE_HOURLY_DAYS \(90\)"),
    ],
)
def test_bad_settings_fail_with_one_line(tmp_path, monkeypatch, name, value, needle):
    """A bad environment value names the variable and what is allowed."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=needle) as excinfo:
        load_config(str(tmp_path))
    assert "\n" not in str(excinfo.value)


def test_usage_retention_defaults_and_settings(tmp_path, monkeypatch):
    """Hourly usage rows are kept 90 days and daily ones 730 unless set; daily keeps at least as long."""
    config = load_config(str(tmp_path))
    assert (config["USAGE_HOURLY_DAYS"], config["USAGE_DAILY_DAYS"]) == (90, 730)
    monkeypatch.setenv("USAGE_HOURLY_DAYS", "400")
    monkeypatch.setenv("USAGE_DAILY_DAYS", "400")
    config = load_config(str(tmp_path))
    assert (config["USAGE_HOURLY_DAYS"], config["USAGE_DAILY_DAYS"]) == (400, 400)


@pytest.mark.parametrize("length", [0, 8, 31])
def test_production_refuses_a_short_secret_key(tmp_path, monkeypatch, length):
    """A secret under 32 characters could be brute-forced from one signed cookie: refused."""
    monkeypatch.setenv("STOCKGATE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * length)
    with pytest.raises(ConfigError) as excinfo:
        load_config(str(tmp_path))
    message = str(excinfo.value)
    assert "SECRET_KEY" in message and "\n" not in message
    if length:
        assert "at least 32 characters" in message and "k" * length not in message
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY[:32])
    assert load_config(str(tmp_path))["SECRET_KEY"] == STRONG_KEY[:32]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("k" * 40, "only 1 distinct character"),
        ("abcabcabcabcabcabcabcabcabcabcabcabc", "only 3 distinct characters"),
        ("0123456" * 6, "only 7 distinct characters"),
        ("secret-key-" * 4, "the same 11 characters repeated"),
        ("0123456789abcdef" * 2, "the same 16 characters repeated"),
    ],
)
def test_production_refuses_an_obviously_weak_secret_key(tmp_path, monkeypatch, key, reason):
    """Length is not strength: one character, a few, or one string repeated is refused in one line."""
    monkeypatch.setenv("STOCKGATE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError) as excinfo:
        load_config(str(tmp_path))
    message = str(excinfo.value)
    assert message.startswith("SECRET_KEY is too easy to guess") and f"({reason})" in message
    assert "\n" not in message and key not in message


def test_production_accepts_random_secret_keys(tmp_path, monkeypatch):
    """Keys made the usual ways (token_urlsafe, token_hex) pass."""
    monkeypatch.setenv("STOCKGATE_ENV", "production")
    for key in (secrets.token_urlsafe(48), secrets.token_hex(32), secrets.token_hex(16)):
        monkeypatch.setenv("SECRET_KEY", key)
        assert load_config(str(tmp_path))["SECRET_KEY"] == key


def test_development_accepts_a_short_secret_key(tmp_path, monkeypatch):
    """Development keeps working with whatever key a developer set."""
    monkeypatch.setenv("SECRET_KEY", "dev")
    assert load_config(str(tmp_path))["SECRET_KEY"] == "dev"


def test_instance_folder_and_secret_file_are_private(tmp_path):
    """instance/ is created 0700 and the generated secret file is 0600, whatever the umask."""
    instance = tmp_path / "instance"
    previous = os.umask(0o022)
    try:
        config = load_config(str(instance))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    secret = instance / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.read_text() == config["SECRET_KEY"]


def test_instance_folder_is_private_for_the_default_database_in_production(tmp_path, monkeypatch):
    """With SECRET_KEY set, instance/ is still made (0700) for the embedded SQLite database."""
    monkeypatch.setenv("STOCKGATE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    instance = tmp_path / "instance"
    config = load_config(str(instance))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'stockgate.db'}"
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert not (instance / "secret_key").exists()


def test_host_settings_default_to_relative_urls_and_no_forwarded_host(tmp_path):
    """No public base URL, no host list, X-Forwarded-Host ignored, docs limited per address."""
    config = load_config(str(tmp_path))
    assert config["PUBLIC_BASE_URL"] is None
    assert config["TRUSTED_HOSTS"] is None
    assert config["PROXY_FIX_X_HOST"] == 0
    assert config["DOCS_RATE_LIMIT"] == "60/minute"


def test_host_settings_are_read_and_normalised(tmp_path, monkeypatch):
    """PUBLIC_BASE_URL loses a trailing slash; TRUSTED_HOSTS becomes Flask's list."""
    monkeypatch.setenv("PUBLIC_BASE_URL", "HTTPS://Stock.Example.com:8443/")
    monkeypatch.setenv("TRUSTED_HOSTS", " stock.example.com, .Example.org ,127.0.0.1,[::1],")
    monkeypatch.setenv("PROXY_FIX_X_HOST", "1")
    config = load_config(str(tmp_path))
    assert config["PUBLIC_BASE_URL"] == "https://stock.example.com:8443"
    assert config["TRUSTED_HOSTS"] == ["stock.example.com", ".example.org", "127.0.0.1", "[::1]"]
    assert config["PROXY_FIX_X_HOST"] == 1
