"""Text hygiene: control characters are shown, never obeyed; tag values stay within IAM's character set."""

from __future__ import annotations

import pytest

from chalicelib.core import text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, ünïcode ok", "plain text, ünïcode ok"),
        ("\x1b[2Jcleared", "\\x1b[2Jcleared"),
        ("line\nforged", "line\\x0aforged"),
        ("tab\tand\rcarriage", "tab\\x09and\\x0dcarriage"),
        ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
        ("bidi \u202eevil\u2066", "bidi \\u202eevil\\u2066"),
        ("sep\u2028x", "sep\\u2028x"),
        ("\x00", "\\x00"),
        ("\x1f\x20", "\\x1f "),
        ("\x7e\xa0", "~\xa0"),
    ],
)
def test_printable_escapes_every_control_character(raw: str, shown: str) -> None:
    assert text.printable(raw) == shown


def test_printable_can_keep_line_breaks() -> None:
    assert text.printable("a\nb\x1bc", keep_newlines=True) == "a\nb\\x1bc"
    assert text.printable("a\r\nb", keep_newlines=True) == "a\\x0d\nb"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (None, "unknown"),
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("AWS Internal", "AWS Internal"),
        ("1.2.3.4\n<script>", "1.2.3.4script"),
        ("\x1b\x07", "unknown"),
        ("a" * 80, "a" * 64),
        ("  spaced  ", "spaced"),
    ],
)
def test_tag_value_keeps_iams_character_set_and_a_bound(raw: str | None, value: str) -> None:
    assert text.tag_value(raw) == value


def test_bounded_escapes_then_cuts() -> None:
    assert text.bounded(None, 10) is None
    assert text.bounded("x" * 10, 10) == "x" * 10
    assert text.bounded("x" * 11, 10) == "x" * 7 + "..."
    assert text.bounded("ua\x1b", 64) == "ua\\x1b"
