"""Database models. Import from here so Alembic sees every table."""

from app.models.api_keys import ApiKey, KeyStatus
from app.models.users import User

__all__ = ["ApiKey", "KeyStatus", "User"]
