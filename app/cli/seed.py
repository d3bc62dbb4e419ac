"""``flask seed-demo``: deterministic demo data for every module (SPEC §4)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from app import seed
from app.cli.base import OneLineCommand, fail
from app.cli.types import WHOLE_NUMBER
from app.validation.errors import ServiceError


@click.command("seed-demo", cls=OneLineCommand)
@click.option(
    "--scale",
    type=WHOLE_NUMBER,
    default=seed.DEFAULT_SCALE,
    show_default=True,
    metavar="N",
    help=f"Number of products (1-{seed.MAX_SCALE:,}); other modules grow with it, the ledger 10x.",
)
@with_appcontext
def seed_demo(scale: int) -> None:
    """Fill every module with deterministic demo data; does nothing if data is already there."""
    try:
        products = seed.validate_scale(scale)
    except ServiceError as exc:
        raise fail(exc) from None
    try:
        if seed.has_domain_data():
            click.echo(
                f"Demo data already present ({seed.count_rows()['products']:,} products); nothing changed."
            )
            return
        plan = seed.plan_for(products)
        with click.progressbar(
            length=plan.steps, label=f"Seeding demo data ({products:,} products)", file=sys.stderr
        ) as bar:
            result = seed.seed_demo(products, progress=bar.update)
    except SQLAlchemyError as exc:
        # e.g. tables missing because migrations have not run: one line, not a traceback.
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(
            f"could not seed the demo data ({reason}); has `flask db upgrade` run?"
        ) from None
    if not result.seeded:  # another process seeded meanwhile
        click.echo(f"Demo data already present ({result.rows['products']:,} products); nothing changed.")
        return
    total = sum(result.rows.values())
    click.echo(f"Seeded {total:,} rows in {result.seconds:.1f} s:")
    for table, count in result.rows.items():
        click.echo(f"  {table:<24} {count:>10,}")
