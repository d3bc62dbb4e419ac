"""Documentation blueprint: ``/api/openapi.json``, ``/api/openapi.yaml``, ``/api/docs`` and
``flask openapi write``. Public: no key, no per-key limits."""

from app.docs.views import bp, init_app

__all__ = ["bp", "init_app"]
