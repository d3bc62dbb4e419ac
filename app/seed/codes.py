"""Identifiers that look like Amazon's (ASIN, FNSKU, order ids) and small generation helpers."""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@functools.cache
def _spread(modulus: int) -> int:
    """A multiplier coprime to ``modulus`` near its golden section.

    ``n -> (n * m + salt) % modulus`` then permutes ``0..modulus-1``: consecutive ids map to
    distinct codes that look random in every position, with no collision check.
    """
    multiplier = int(modulus * 0.6180339887498949)
    while math.gcd(multiplier, modulus) != 1:
        multiplier += 1
    return multiplier


def base36(number: int, width: int) -> str:
    """``number`` in upper-case base 36, ``width`` characters (high digits dropped)."""
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 36)
        chars.append(_BASE36[digit])
    return "".join(reversed(chars))


def unique_code(number: int, width: int, salt: int) -> str:
    """A random-looking base-36 code of ``width`` characters, distinct for distinct numbers."""
    modulus = 36**width
    return base36((number * _spread(modulus) + salt) % modulus, width)


def asin_for(product_id: int) -> str:
    """Amazon-style ASIN, e.g. ``B07XJ8C8F5``; unique per product id."""
    return "B0" + unique_code(product_id, 8, 7_919_000_000)


def fnsku_for(product_id: int) -> str:
    """Amazon-style FNSKU, e.g. ``X001K7Q2ZD``; unique per product id."""
    return "X00" + unique_code(product_id, 7, 10_472_900)


def amazon_order_id_for(order_id: int, rng: random.Random) -> str:
    """Amazon-style order id (3-7-7 digits); the middle group makes it unique per order id."""
    middle = (order_id * _spread(10**7) + 1_299_709) % 10**7
    return f"{rng.choice(('111', '112', '113', '114'))}-{middle:07d}-{rng.randrange(10**7):07d}"


def money(cents: int) -> Decimal:
    """An exact amount from integer cents."""
    return Decimal(cents).scaleb(-2)


def initials(phrase: str, length: int = 3) -> str:
    """Upper-case code of ``phrase``: ``Hearthstone`` -> ``HEA``, ``Stoneware Coffee Mug`` -> ``SCM``."""
    parts = [part for part in phrase.replace("&", " ").replace("-", " ").split() if part[0].isalnum()]
    if len(parts) == 1:
        return parts[0][:length].upper()
    # Initials, padded with the following letters of the last word ("Yoga Strap" -> "YST").
    code = "".join(part[0] for part in parts)[:length]
    return (code + parts[-1][1 : 1 + length - len(code)]).upper()


class Weighted:
    """Weighted choice with one random number (``random.choices`` per call is slower)."""

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.items = [item for item, _weight in pairs]
        self.cumulative = list(itertools.accumulate(weight for _item, weight in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> Any:
        """One item, drawn by weight."""
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]
