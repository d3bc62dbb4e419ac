"""Acting on a key's usage (SPEC §13): remove the abilities it does not use, grant one it was
refused. Both take the key with ``keys.service.change`` (locked, so two admins granting at the
same time both land, neither overwriting the other) and save with ``keys.service.update_key``,
so the rules, the single ``key.updated`` audit event and the commit live in one place, and the
next request sees the change (the verifier reads abilities fresh; the proven-key cache holds
only the hash a key matched).

A key keeps at least one ability: the create and edit forms and ``KeyEditSchema`` require one,
so "Remove unused abilities" refuses to empty a key whose every ability is unused and says to
deactivate or revoke it instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.catalogue import ABILITY_SET, ALL_ABILITIES
from app.keys import service
from app.keys.inputs import UNKNOWN_ABILITY
from app.keys.service import KeyAction
from app.models.api_keys import ApiKey
from app.usage import reports
from app.validation.errors import Conflict, InvalidInput

REMOVE_REASON = "Removed unused abilities (no request in the last {days} days)"
GRANT_REASON = "Granted an ability the key was refused"


@dataclass(frozen=True)
class Removed:
    """The key after "Remove unused abilities" and the abilities taken away."""

    key: ApiKey
    abilities: list[str]


def _shown(value: object) -> str:
    """A refused value, safe to echo in one line (short, printable ASCII) or described."""
    text = str(value)
    if len(text) <= 60 and text.isascii() and text.isprintable():
        return text
    return "(not an ability string)"


def _known(values: Iterable[object], field: str) -> list[str]:
    unknown = [value for value in values if not isinstance(value, str) or value not in ABILITY_SET]
    if unknown:
        errors = {field: [UNKNOWN_ABILITY.format(", ".join(_shown(value) for value in unknown))]}
        raise InvalidInput(errors[field][0], errors)
    return [str(value) for value in values]


def not_judged(prefix: str, history_days: int, days: int) -> str:
    """Why a key's abilities are not judged yet: its usage history is shorter than the window."""
    return (
        f"key {prefix} has {history_days} day{'' if history_days == 1 else 's'} of usage history so far; "
        f"its abilities are judged used or unused once it covers the last {days} days"
    )


def remove_unused_abilities(
    prefix: str,
    *,
    actor: str,
    confirmed: Iterable[object] | None = None,
    days: int = reports.WINDOW_DAYS,
) -> Removed:
    """Take away the abilities the key's roll chain did not request in ``days`` days.

    ``confirmed``: the abilities the admin saw listed when confirming; only those that are
    still unused go (one used since, or one that fell unused since, is left alone). None or
    empty: every ability unused now. Refused
    (``Conflict``) when nothing is left to remove, when the key would keep no ability, or while
    its history is shorter than ``days`` (``reports.History``: a key that young is not judged).
    """
    # Usage is read before the key is locked: reading flushes this process's counts, a write
    # that would wait on the lock (SQLite locks the whole database).
    key = service.get_key(prefix)
    _refuse_unless_editable(key)
    report = reports.for_key(key, days)
    if report.history is not None and not report.history.judged:
        raise Conflict(not_judged(key.prefix, report.history.days, days))
    unused = report.unused
    if not unused:
        raise Conflict(f"every ability of key {key.prefix} was used in the last {days} days")
    if confirmed:
        wanted = set(_known(list(confirmed), "abilities"))
        unused = [ability for ability in unused if ability in wanted]
        if not unused:
            raise Conflict(
                "the abilities confirmed are no longer unused; reload the page to see the usage now"
            )
    with service.change(prefix, KeyAction.EDIT) as key:
        # Only abilities the key still holds go (one removed meanwhile is not reported again).
        unused = [ability for ability in key.abilities if ability in unused]
        remaining = [ability for ability in key.abilities if ability not in unused]
        if not unused:
            raise Conflict(f"the unused abilities of key {key.prefix} were removed meanwhile")
        if not remaining:
            raise Conflict(
                f"every ability of key {key.prefix} is unused in the last {days} days; a key keeps at "
                "least one ability, so deactivate or revoke it instead"
            )
        key = service.update_key(
            key, actor=actor, reason=REMOVE_REASON.format(days=days), abilities=remaining
        )
    return Removed(key=key, abilities=unused)


def grant_ability(prefix: str, ability: object, *, actor: str) -> ApiKey:
    """Add one catalogue ability to the key (the "Grant" of a refused ability)."""
    _refuse_unless_editable(service.get_key(prefix))
    if ability is None or ability == "":
        raise InvalidInput("Choose the ability to grant.", {"ability": ["Choose the ability to grant."]})
    (wanted,) = _known([ability], "ability")
    with service.change(prefix, KeyAction.EDIT) as key:
        if wanted in key.abilities:
            raise Conflict(f"key {key.prefix} already has the {wanted} ability")
        held = {*key.abilities, wanted}
        abilities = [name for name in ALL_ABILITIES if name in held]
        return service.update_key(key, actor=actor, reason=GRANT_REASON, abilities=abilities)


def _refuse_unless_editable(key: ApiKey) -> None:
    """Refuse early (before reading usage or input) what ``service.change`` would refuse."""
    reason = service.refusal(key, KeyAction.EDIT)
    if reason is not None:
        raise Conflict(reason)
