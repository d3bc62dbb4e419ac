"""Dependencies: every package pinned with hashes in a lock, and the venv holds exactly the lock.

A package that floats (installed, but not named in the lock at that version) fails here, as
does a lock line without `==` or `--hash`, or a `.in` pin that `make lock` has not compiled yet.
"""

from __future__ import annotations

import re
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements.txt", "requirements-dev.txt", "requirements-tools.txt")
# What each .in compiles into (see `make lock`).
SOURCES = {
    "requirements.in": "requirements.txt",
    "requirements-dev.in": "requirements-dev.txt",
    "requirements-tools.in": "requirements-tools.txt",
}
PINNED = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def entries(path: Path) -> list[str]:
    """The logical lines of a requirements file: comments dropped, `\\` continuations joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins(lock: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Name -> (version, hashes) for every entry of a lock file, asserting each is pinned and hashed."""
    found = {}
    for entry in entries(ROOT / lock):
        spec, *options = entry.split()
        match = PINNED.match(spec)
        assert match, f"{lock}: {spec!r} is not pinned with == (run `make lock`)"
        hashes = frozenset(option for option in options if HASH.fullmatch(option))
        assert hashes, f"{lock}: {spec} has no --hash (run `make lock`)"
        assert len(hashes) == len(options), f"{lock}: {spec} carries options other than --hash"
        found[canonicalize_name(match["name"])] = (match["version"], hashes)
    return found


@pytest.mark.parametrize("lock", LOCKS)
def test_every_lock_line_is_pinned_with_hashes(lock):
    """Each entry of each lock is `name==version` followed by its sha256 hashes, and nothing else."""
    assert pins(lock)


@pytest.mark.parametrize(("source", "lock"), SOURCES.items())
def test_every_direct_pin_is_in_its_lock(source, lock):
    """A version pinned in a .in file is the one its lock holds: the lock was recompiled after the edit."""
    locked = pins(lock)
    for entry in entries(ROOT / source):
        if entry.startswith("-"):  # -r / -c lines: the files they name are checked on their own
            continue
        requirement = Requirement(entry)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{source} names {requirement.name}, missing from {lock}"
        assert requirement.specifier.contains(locked[name][0]), (
            f"{source} wants {entry}, {lock} pins {locked[name][0]} (run `make lock`)"
        )


def test_runtime_pins_are_identical_in_the_dev_lock():
    """`make test` tests the very packages `make run` serves with: same versions, same hashes."""
    runtime, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_every_installed_package_is_in_the_dev_lock():
    """Nothing floats: every distribution in this venv is in requirements-dev.txt at the installed version."""
    locked = {name: version for name, (version, _) in pins("requirements-dev.txt").items()}
    installed = {canonicalize_name(dist.metadata["Name"]): dist.version for dist in distributions()}
    floating = {name: version for name, version in installed.items() if locked.get(name) != version}
    assert not floating, f"installed but not locked at this version: {floating} (`make clean test`)"
