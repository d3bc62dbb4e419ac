"""The seller's organisation: back-office settings, departments and employees."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.mixins import DomainRecord, str_enum


class EmploymentStatus(enum.StrEnum):
    """Whether an employee currently works here."""

    ACTIVE = "active"
    ON_LEAVE = "on_leave"
    TERMINATED = "terminated"


class Setting(DomainRecord, db.Model):
    """A non-secret back-office setting (e.g. default currency). Secrets never live here."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    # Stored as text; ``value_type`` says how to read it (string, integer, decimal, boolean).
    value: Mapped[str] = mapped_column(Text)
    value_type: Mapped[str] = mapped_column(String(16))
    group: Mapped[str] = mapped_column(String(40), index=True)
    description: Mapped[str] = mapped_column(String(240))


class Department(DomainRecord, db.Model):
    """A department of the seller's company."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(12), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    cost_center: Mapped[str] = mapped_column(String(12))


class Employee(DomainRecord, db.Model):
    """A person on the seller's staff."""

    __tablename__ = "employees"

    employee_number: Mapped[str] = mapped_column(String(12), unique=True, index=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    job_title: Mapped[str] = mapped_column(String(80), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[EmploymentStatus] = mapped_column(str_enum(EmploymentStatus, 16), index=True)
    hired_on: Mapped[dt.date] = mapped_column(Date, index=True)
