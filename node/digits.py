"""Decimal numbers in text that comes from outside (gossip, replicated records, config,
headers, the command line).

`str.isdigit()` alone is not the check: it takes characters such as "²" that `int()`
refuses, so a check with it lets a ValueError through where the caller expects its own
clear error. At the bottom of node: imports nothing of node.
"""

from __future__ import annotations


def is_digits(text: object) -> bool:
    """True for a non-empty string of ASCII digits, which `int()` always reads."""
    return isinstance(text, str) and text.isascii() and text.isdigit()
