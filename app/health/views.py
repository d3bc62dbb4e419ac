"""Probe views. ``/healthz`` touches nothing; ``/readyz`` checks the database and limiter."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from app.extensions import db, limiter

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. No auth, no database."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the database answers a query and the rate-limit storage is reachable."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # any driver error means "not ready", never a 500
        db.session.rollback()
        checks["database"] = "unavailable"
    try:
        storage = limiter.storage
        checks["rate_limit_storage"] = "ok" if storage is not None and storage.check() else "unavailable"
    except Exception:
        checks["rate_limit_storage"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
