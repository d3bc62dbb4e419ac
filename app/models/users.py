"""People and system accounts that own API keys and sign in to the panel."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ColumnElement, Index, Integer, String
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

# RFC 5321: an address in a mail path is at most 254 characters (accounts.UserSchema checks it).
EMAIL_MAX_LENGTH = 254


class User(UserMixin, db.Model):
    """A person (who may sign in as an admin) or a system account such as a sync job."""

    __tablename__ = "users"
    # The panel sorts keys by their owner's name.
    __table_args__ = (Index("ix_users_name", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    # System accounts never sign in, so they have no password.
    password_hash: Mapped[str | None] = mapped_column(String(60), nullable=True)
    # Rotated at sign-out so a copied session cookie stops working (Flask-Login reads get_id).
    session_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set at each panel sign-in (accounts.record_sign_in); None: never signed in.
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Offboarding (SPEC §15): set when the account is deactivated, cleared when reactivated.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Account state, owned here as a hybrid (Python and SQL), like ``ApiKey.is_working``:
    # Flask-Login's ``is_active`` too, so ``login_user`` refuses a deactivated account.
    @hybrid_property
    def is_active(self) -> bool:
        """The account is not deactivated."""
        return self.deactivated_at is None

    @is_active.inplace.expression
    @classmethod
    def _is_active_sql(cls) -> ColumnElement[bool]:
        return cls.deactivated_at.is_(None)

    @property
    def kind(self) -> str:
        """What the account is, as people read it: Admin, Person or System."""
        if self.is_system:
            return "System"
        return "Admin" if self.is_admin else "Person"

    @property
    def status(self) -> str:
        """Active or Deactivated."""
        return "Active" if self.is_active else "Deactivated"

    def get_id(self) -> str:
        """Return the session identity: user id plus the current session token."""
        return f"{self.id}:{self.session_token or ''}"

    def __repr__(self) -> str:
        return f"<User {self.email}>"
