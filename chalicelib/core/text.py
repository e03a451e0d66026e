"""Text hygiene: what counts as a control character, and how account-controlled text is made safe to show.

Text the bot did not write (user names, exemption reasons, an event's user agent, error messages)
ends up in log lines, Slack, tags and terminals. A control character there can forge a log line
(a newline), rewrite a terminal (ESC sequences) or make text read in another order than it is
stored (bidirectional overrides). The exemptions validator refuses such text; everything else
that is only shown goes through `printable`, and what the bot writes back to IAM through `tag_value`.
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL, the Unicode line and paragraph separators, and the bidirectional
# embeddings, overrides and isolates (the "Trojan Source" characters).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# IAM tag values: letters, digits, spaces and _ . : / = + - @ (IAM API reference, TagUser).
_NOT_TAG_VALUE = re.compile(r"[^A-Za-z0-9 _.:/=+@-]")
MAX_TAG_VALUE = 256


def escaped(char: str) -> str:
    """A control character written out (`\\x1b`, `\\u202e`), so it is seen rather than obeyed."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """The text with every control character replaced by its escape; `keep_newlines` keeps line breaks."""
    pattern = _CONTROL_BUT_NEWLINE if keep_newlines else CONTROL
    return pattern.sub(lambda found: escaped(found.group()), text)


def tag_value(text: str | None, limit: int = 64, *, missing: str = "unknown") -> str:
    """Event text made into an IAM tag value: IAM's character set only, bounded, never empty."""
    if text is None:
        return missing
    kept = _NOT_TAG_VALUE.sub("", text)[:limit].strip()
    return kept or missing


def bounded(text: str | None, limit: int) -> str | None:
    """Event text made safe to carry in a finding: control characters escaped, cut to `limit` characters."""
    if text is None:
        return None
    shown = printable(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
