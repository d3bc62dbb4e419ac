"""Output schemas of the organisation modules: settings, departments, employees."""

from __future__ import annotations

from app.models.organisation import EmploymentStatus
from app.schemas import fields as f
from app.schemas.base import RecordSchema


class SettingSchema(RecordSchema):
    """A non-secret back-office setting."""

    key = f.text("Setting name; unique.", "inventory.low_stock_days")
    value = f.text("Value as text; read it according to `value_type`.", "21")
    value_type = f.text("How to read `value`: string, integer, decimal or boolean.", "integer")
    group = f.text("Area the setting belongs to.", "inventory")
    description = f.text("What the setting controls.", "Days of cover below which a SKU is low on stock.")


class DepartmentSchema(RecordSchema):
    """A department of the seller's company."""

    code = f.text("Short department code.", "OPS")
    name = f.text("Department name.", "Operations")
    cost_center = f.text("Cost center for bookkeeping.", "CC-1200")


class EmployeeSchema(RecordSchema):
    """A person on the seller's staff."""

    employee_number = f.text("Employee number.", "E-00017")
    first_name = f.text("First name.", "Priya")
    last_name = f.text("Last name.", "Raman")
    email = f.text("Work email.", "priya.raman@hearthstone-trading.example")
    job_title = f.text("Job title.", "Inventory Planner")
    department_id = f.reference("Id of the department (see `departments`).", 3)
    status = f.choice(EmploymentStatus, "Whether the person currently works here.", "active")
    hired_on = f.day("First working day.", "2023-04-03")
