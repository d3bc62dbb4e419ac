"""The sgk_ key format: generation, checksum and the database-free syntax check."""

import re
import zlib

import pytest

from app.keys.format import ALPHABET, KEY_LENGTH, base62, build_key, checksum, generate_key_id, parse_key

KEY_RE = re.compile(r"sgk_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}")


def test_generated_key_matches_the_documented_pattern_and_length():
    """A new key is sgk_ + 8 + _ + 32 + 6 base62 characters, 51 in all."""
    for _ in range(200):
        key = build_key(generate_key_id())
        assert len(key) == KEY_LENGTH == 51
        assert KEY_RE.fullmatch(key)
        assert parse_key(key) is not None


def test_checksum_is_crc32_in_base62_most_significant_first():
    """The last six characters are CRC32 of the rest, 0-9A-Za-z, left-padded with 0."""
    body = "sgk_AAAAAAAA_" + "B" * 32
    value = zlib.crc32(body.encode())
    digits = ""
    while value:
        value, rem = divmod(value, 62)
        digits = ALPHABET[rem] + digits
    assert checksum(body) == digits.rjust(6, "0")
    assert base62(0, 6) == "000000"
    assert base62(61, 2) == "0z"
    assert base62(62, 2) == "10"


def test_parse_key_returns_the_twelve_character_prefix():
    """The public prefix is sgk_ plus the key id."""
    key = build_key("Ab3dEf9H")
    parsed = parse_key(key)
    assert parsed is not None
    assert parsed.prefix == "sgk_Ab3dEf9H"


def _with_bad_checksum(key: str) -> str:
    last = key[-1]
    return key[:-1] + ("A" if last != "A" else "B")


VALID = build_key("Ab3dEf9H", "s" * 32)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "x" * 11,
        VALID[:-1] + "",  # 50 characters
        "y" * 51,
        VALID + "A",  # 52
        "z" * 73,
        "k" * 1000,
        "sgx_" + VALID[4:],  # wrong prefix tag
        VALID.replace("_", "-"),
        _with_bad_checksum(VALID),
        VALID[:20] + "é" + VALID[21:],  # non-ASCII
        VALID[:20] + "\x00" + VALID[21:],
        " " + VALID[1:],
        None,
        12345,
        b"sgk_bytes",
    ],
    ids=[
        "empty",
        "11-chars",
        "50-chars",
        "51-garbage",
        "52-chars",
        "73-chars",
        "1000-chars",
        "wrong-prefix",
        "dashes",
        "wrong-checksum",
        "non-ascii",
        "nul-byte",
        "leading-space",
        "none",
        "int",
        "bytes",
    ],
)
def test_malformed_keys_are_rejected_without_a_database(raw):
    """Garbage never reaches a query: parse_key is pure string work."""
    assert parse_key(raw) is None


def test_a_single_changed_secret_character_breaks_the_checksum():
    """Typos are caught by the checksum, not by bcrypt."""
    key = build_key("Ab3dEf9H")
    flipped = key[:20] + ("a" if key[20] != "a" else "b") + key[21:]
    assert parse_key(flipped) is None
