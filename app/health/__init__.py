"""Liveness and readiness probes: ``/healthz`` and ``/readyz`` (SPEC §6)."""

from app.health.views import bp

__all__ = ["bp"]
