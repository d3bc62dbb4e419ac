"""Demo organisation: non-secret settings, departments and employees."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from app.models.organisation import Department, Employee, Setting
from app.seed import words
from app.seed.codes import Weighted
from app.seed.context import ANCHOR, SeedContext

Row = dict[str, Any]

# Warehouse and operations are the largest departments (weights in DEPARTMENTS order).
_DEPARTMENT_WEIGHTS = (20, 10, 30, 14, 8, 6, 6, 6)
_EMPLOYMENT = Weighted([("active", 88), ("on_leave", 4), ("terminated", 8)])
_EMAIL_DOMAIN = "hearthstone-trading.example"


def write_organisation(ctx: SeedContext) -> None:
    """Insert settings, departments and employees."""
    ctx.loader.insert_all(Setting, settings(ctx))
    ctx.loader.insert_all(Department, departments(ctx))
    ctx.loader.insert_all(Employee, employees(ctx))


def settings(ctx: SeedContext) -> Iterator[Row]:
    """The non-secret settings of the back office."""
    rng = ctx.rng("settings")
    for setting_id, (key, value, value_type, group, description) in enumerate(words.SETTINGS, start=1):
        created, updated = ctx.stamps(rng, 600, 200)
        yield {
            "id": setting_id,
            "key": key,
            "value": value,
            "value_type": value_type,
            "group": group,
            "description": description,
            "created_at": created,
            "updated_at": updated,
        }


def departments(ctx: SeedContext) -> Iterator[Row]:
    """The company's departments."""
    rng = ctx.rng("departments")
    for department_id, (code, name, cost_center, _titles) in enumerate(words.DEPARTMENTS, start=1):
        created, updated = ctx.stamps(rng, 1_500, 900)
        yield {
            "id": department_id,
            "code": code,
            "name": name,
            "cost_center": cost_center,
            "created_at": created,
            "updated_at": updated,
        }


def employees(ctx: SeedContext) -> Iterator[Row]:
    """Staff spread over the departments, with unique work emails."""
    rng = ctx.rng("employees")
    department_ids = Weighted(
        list(zip(range(1, len(words.DEPARTMENTS) + 1), _DEPARTMENT_WEIGHTS, strict=True))
    )
    used_emails: set[str] = set()
    for employee_id in range(1, ctx.plan.employees + 1):
        first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
        local = f"{first}.{last}".lower()
        email = f"{local}@{_EMAIL_DOMAIN}"
        if email in used_emails:
            email = f"{local}{employee_id}@{_EMAIL_DOMAIN}"
        used_emails.add(email)
        department_id = department_ids.pick(rng)
        hired_on = ANCHOR.date() - timedelta(days=rng.randint(30, 8 * 365))
        # The HR record is created two weeks before the first day.
        created = datetime(hired_on.year, hired_on.month, hired_on.day, 8, tzinfo=UTC) - timedelta(days=14)
        yield {
            "id": employee_id,
            "employee_number": f"E-{employee_id:05d}",
            "first_name": first,
            "last_name": last,
            "email": email,
            "job_title": rng.choice(words.DEPARTMENTS[department_id - 1][3]),
            "department_id": department_id,
            "status": _EMPLOYMENT.pick(rng),
            "hired_on": hired_on,
            "created_at": created,
            "updated_at": min(ANCHOR, created + timedelta(days=rng.randint(14, 400))),
        }
