"""``argparse`` types shared by the subcommands: a bad value is one line naming the option, exit 2.

argparse prints ``harness run: error: argument --seed: …`` and exits 2. The checks that need the file
system or the network are in :mod:`harness.preflight`.
"""

from __future__ import annotations

import argparse
import re
from urllib.parse import urlsplit

__all__ = ["MAX_SEED", "description", "provider_url", "seed"]

#: the largest seed a scenario accepts (``seed`` is a signed 64-bit integer everywhere)
MAX_SEED = 2**63 - 1


def seed(value: str) -> int:
    """``--seed N``: an integer from 0 to 2**63-1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2**63-1, got {value[:40]!r}") from None
    if not 0 <= number <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2**63-1, got {value[:40]}")
    return number


def provider_url(value: str) -> str:
    """``--provider-url URL``: ``http(s)://host[:port][/prefix]``, without a trailing slash."""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a port that is not a number or out of range
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value[:80]!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected http://HOST:PORT (what harness serve prints), got {value[:80]!r}")
    if parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"expected http://HOST:PORT without a query or fragment, got {value[:80]!r}")
    if port == 0:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value[:80]!r}")
    return value.rstrip("/")


def description(doc: str | None) -> str:
    """A command's ``--help`` description: its docstring's first paragraph, RST markup dropped."""
    first = (doc or "").split("\n\n")[0]
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", first)  # :mod:`harness.x` → harness.x
    return " ".join(text.replace("``", "").split())
