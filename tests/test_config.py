"""Configuration from the environment: safe defaults, unsafe settings refused in one line."""

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


def test_production_requires_a_secret_key(tmp_path, monkeypatch):
    """Production without SECRET_KEY fails at start-up with a one-line reason."""
    monkeypatch.setenv("STOCKGATE_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        load_config(str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
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
    ],
)
def test_bad_settings_fail_with_one_line(tmp_path, monkeypatch, name, value, needle):
    """A bad environment value names the variable and what is allowed."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=needle) as excinfo:
        load_config(str(tmp_path))
    assert "\n" not in str(excinfo.value)
