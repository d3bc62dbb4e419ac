"""Allowed IPs of a key (SPEC §12): parse the admin's entries, and match a client's address.

Entries are IPv4/IPv6 addresses or CIDR ranges, read with ``ipaddress.ip_network(entry,
strict=False)`` (so ``10.0.0.7/24`` means ``10.0.0.0/24``) and stored in canonical form
(``203.0.113.7/32``, ``2001:db8::/48``), without repeats, at most ``MAX_ENTRIES``. An
IPv4-mapped IPv6 entry or address (``::ffff:203.0.113.7``) is the IPv4 one: a dual-stack
server reports IPv4 clients that way. A zone (``fe80::1%eth0``) names an interface of the
machine that wrote it, not a client, so it is refused.

The panel form, the key service and the API guard all call these functions, so the rules
and their messages live once. Matching is on the hot path: answers are cached per (address,
list), so a client calling again costs one dictionary lookup, and a key without allowed IPs
never gets here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache

MAX_ENTRIES = 100
# Long enough for any IPv6 address with a prefix length; longer entries are refused unread.
MAX_ENTRY_LENGTH = 64
# The form's textarea: one entry per line (commas and spaces also separate, for pasted lists).
_SEPARATORS = re.compile(r"[\s,]+")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def split_entries(text: str) -> list[str]:
    """The entries of a textarea: one per line (or separated by commas/spaces), blanks dropped."""
    return [entry for entry in _SEPARATORS.split(text) if entry]


def _shown(entry: str) -> str:
    """The entry as named in an error message: quoted, and cut short when very long."""
    return repr(entry if len(entry) <= MAX_ENTRY_LENGTH else entry[:MAX_ENTRY_LENGTH] + "…")


def _bad_entries_error(bad: list[str]) -> ValueError:
    """The one message for refused entries: every bad entry named, in the order given."""
    what = "Not an IP address or CIDR range" if len(bad) == 1 else "Not IP addresses or CIDR ranges"
    named = ", ".join(_shown(entry) for entry in bad[:MAX_ENTRIES])
    more = f" and {len(bad) - MAX_ENTRIES} more" if len(bad) > MAX_ENTRIES else ""
    return ValueError(f"{what}: {named}{more} (e.g. 203.0.113.7, 203.0.113.0/24 or 2001:db8::/48).")


def _network(entry: str) -> Network | None:
    """One entry as a network; None when it is not an address or range."""
    if len(entry) > MAX_ENTRY_LENGTH or "%" in entry:
        return None
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def canonical(entries: Iterable[str]) -> list[str]:
    """The entries as canonical CIDR strings, first occurrence kept.

    ValueError names every bad entry at once (SPEC §7: an admin fixes a pasted list in one go);
    a long list of bad ones is named up to ``MAX_ENTRIES``, since more are refused anyway.
    """
    seen: dict[str, None] = {}
    bad: dict[str, None] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        network = _network(entry)
        if network is None:
            bad[entry] = None
        else:
            seen[str(network)] = None
    if bad:
        raise _bad_entries_error(list(bad))
    if len(seen) > MAX_ENTRIES:
        raise ValueError(f"At most {MAX_ENTRIES} allowed IPs; {len(seen)} were given.")
    return list(seen)


@lru_cache(maxsize=1024)
def networks(allowed: tuple[str, ...]) -> tuple[Network, ...]:
    """The parsed networks of a stored list (cached: keys reuse the same lists request after request)."""
    return tuple(ipaddress.ip_network(entry) for entry in allowed)


def client_ip(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's address as an IP (IPv4-mapped IPv6 as IPv4), or None when it is not an IP."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@lru_cache(maxsize=4096)
def is_allowed(address: str | None, allowed: tuple[str, ...]) -> bool:
    """True when ``address`` falls in one of the ``allowed`` ranges (an empty list allows any)."""
    if not allowed:
        return True
    ip = client_ip(address)
    if ip is None:
        return False  # a unix socket or no address: nothing to match, so not allowed
    # Comparing across versions is simply False (``in`` checks the version first).
    return any(ip in network for network in networks(allowed))
