"""What the documentation tests count, derived from the catalogue."""

from __future__ import annotations

from app.catalogue import ALL_ABILITIES

# One GET operation per ability (each module's list and show) and GET /api/v1/key, which needs none.
OPERATION_COUNT = len(ALL_ABILITIES) + 1
