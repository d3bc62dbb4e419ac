"""Command line: ``flask users ...``, ``flask keys ...``, ``flask audit list`` and ``flask usage prune``
(SPEC §9, §12, §13).

Every error is one line on stderr and a non-zero exit; services validate before they
write, so a refused command leaves nothing behind. Every option and argument goes through a
type of ``app.cli.types``: no control characters, numbers in ASCII digits only.
"""

from __future__ import annotations

from flask import Flask

from app.cli.audit import audit_cli
from app.cli.keys import keys_cli
from app.cli.seed import seed_demo
from app.cli.usage import usage_cli
from app.cli.users import users_cli


def init_app(app: Flask) -> None:
    """Register the command groups on ``app``."""
    app.cli.add_command(users_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(usage_cli)
    app.cli.add_command(seed_demo)
