"""Who may use the control API (``/_fake/*``) and ``/metrics``.

The control API reads the request log and the ledger, replaces the fault schedule and resets the
server, so on a socket other machines can reach it must not be open. The rules:

* a server bound to a loopback address (``127.0.0.1``, ``::1``, ``localhost``) with no control token
  answers control requests from anyone on the machine (the default, for tests);
* a server given a control token requires ``Authorization: Bearer <token>`` on every control request,
  compared in constant time; a missing or wrong token gets a 401;
* ``harness serve`` refuses to bind a non-loopback address without a control token.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping

__all__ = ["CONTROL_PREFIX", "is_control_path", "is_loopback", "token_matches"]

CONTROL_PREFIX = "/_fake/"
_LOOPBACK_NAMES = ("localhost", "localhost.", "ip6-localhost")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the socket on this machine (an unknown name counts as not)."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def is_control_path(path: str) -> bool:
    """``/_fake/*`` and ``/metrics``: the paths the control token guards."""
    return path.startswith(CONTROL_PREFIX) or path == "/metrics"


def token_matches(headers: Mapping[str, str], token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>`` (constant-time comparison)."""
    given = headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8"))
