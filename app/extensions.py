"""Flask extensions, created unbound; ``create_app`` binds them with ``init_app``.

Everything imports extensions from here, never from ``app``, so no module needs the
application object at import time.
"""

from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
# gzip of JSON answers over 1 KB; configured by the ``COMPRESS_*`` keys in ``app.config``. Hooked
# by the blueprints that serve JSON (``bp.after_request(compress.after_request)``), not app-wide.
compress = Compress()
# Per-address by default. Only the docs declare a limit through Flask-Limiter (a shared limit on
# their blueprint); the API (app.api.ratelimit) and the sign-in form (app.panel.throttle) count
# their own buckets through ``limiter.limiter`` and the same storage.
limiter = Limiter(key_func=get_remote_address)
