"""Talking to the fake provider's control API (``/_fake/*``, ``/metrics``) as its owner.

A fake provider bound to a non-loopback address requires a control token on every control request
(``harness serve --control-token`` or the ``HARNESS_CONTROL_TOKEN`` environment variable); the
harness's own callers (``harness run --provider-url``, ``harness load --provider-url``) send the
token from that same environment variable. On loopback without a token, no header is sent.

Example::

    request = urllib.request.Request(f"{url}/_fake/ledger", headers=control_headers())
"""

from __future__ import annotations

import os

__all__ = ["CONTROL_TOKEN_ENV", "control_headers", "control_token_from_env"]

#: the environment variable that holds the control token (both sides read it)
CONTROL_TOKEN_ENV = "HARNESS_CONTROL_TOKEN"


def control_token_from_env() -> str | None:
    """The control token from ``HARNESS_CONTROL_TOKEN``, or None when unset or empty."""
    return os.environ.get(CONTROL_TOKEN_ENV) or None


def control_headers(token: str | None = None) -> dict[str, str]:
    """The header that authorizes a control request: ``Authorization: Bearer <token>`` (or none)."""
    token = token if token is not None else control_token_from_env()
    return {"authorization": f"Bearer {token}"} if token else {}
