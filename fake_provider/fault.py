"""What to do wrong to one request: a :class:`Fault`, and the per-request test headers that ask for one.

The provider core asks each of its fault sources, in order, "which fault applies to this request?"
(:data:`FaultSource`); the first answer wins and the plan builders turn it into a plan. This issue
ships one source, the test headers (enabled only with ``allow_fault_headers``); the seeded fault
schedule plugs in as another source.

Header grammar (values are case-insensitive; parameters are ``name=value`` after ``;``)::

    x-fake-status: 429                          # that provider's real 429 body and headers
    x-fake-status: 429; retry_after_ms=300      # … with retry-after-ms: 300 (Gemini: RetryInfo 0.300s)
    x-fake-status: 503; retry_after=2           # … with retry-after: 2
    x-fake-status: 429; code=insufficient_quota # a specific error code / type
    x-fake-fault: reset                         # TCP reset before any byte
    x-fake-fault: silence; seconds=1.5          # read the request, say nothing, then drop it
    x-fake-fault: cut; after_tokens=3           # stream: abort the connection after 3 output tokens
    x-fake-fault: error; after_tokens=3; status=529   # stream: a mid-stream error event
    x-fake-fault: slow; seconds=0.5             # add 0.5 s before the first token
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fake_provider.plan import TransportFault
from harness.wire.neutral import RequestInvalid

if TYPE_CHECKING:
    from fake_provider.context import CallContext

__all__ = ["FAULT_HEADER", "STATUS_HEADER", "Fault", "FaultSource", "parse_fault_headers"]

STATUS_HEADER = "x-fake-status"
FAULT_HEADER = "x-fake-fault"


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault applied to one request; the plan builders read it."""

    name: str  # for the request log: "header:429", "outage", "stream_cut_after=3" …
    status: int | None = None  # answer with this error status, in the provider's shape
    retry_after_s: float | None = None  # retry hint to send with the error
    retry_unit: str = "s"  # "s": retry-after (seconds), "ms": retry-after-ms, "both"
    code: str | None = None  # error type / code override (e.g. "insufficient_quota")
    message: str | None = None  # error message override
    transport: TransportFault | None = None  # reset / silence instead of any HTTP answer
    silence_s: float = 0.0  # for TransportFault.SILENCE
    cut_after_tokens: int | None = None  # streams: abort the connection after this many output tokens
    error_after_tokens: int | None = None  # streams: send an error event (``status``) after this many
    extra_ttft_s: float = 0.0  # added before the first token


#: "which fault applies to this request?" — None for none; sources are asked in order
FaultSource = Callable[["CallContext"], Fault | None]


def _params(value: str, header: str) -> tuple[str, dict[str, str]]:
    head, *rest = (p.strip() for p in value.split(";"))
    params: dict[str, str] = {}
    for item in rest:
        if not item:
            continue
        name, sep, val = item.partition("=")
        if not sep or not name.strip():
            raise RequestInvalid(header, f"expected name=value parameters after ';', got {item[:40]!r}")
        params[name.strip().lower()] = val.strip()
    return head.lower(), params


def _number(params: dict[str, str], name: str, header: str, default: float | None = None) -> float | None:
    raw = params.pop(name, None)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0 or value > 3600:
        raise RequestInvalid(header, f"{name}: expected a number of seconds in [0, 3600], got {raw[:40]!r}")
    return value


def _count(params: dict[str, str], name: str, header: str) -> int | None:
    raw = params.pop(name, None)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise RequestInvalid(header, f"{name}: expected a whole number ≥ 0, got {raw[:40]!r}")
    return int(raw)


def _status(raw: str, header: str) -> int:
    if len(raw) != 3 or not (raw.isascii() and raw.isdigit()) or not 400 <= int(raw) <= 599:
        raise RequestInvalid(header, f"expected an HTTP error status 400-599, got {raw[:40]!r}")
    return int(raw)


def _leftover(params: dict[str, str], header: str) -> None:
    if params:
        raise RequestInvalid(header, f"unknown parameter {sorted(params)[0][:40]!r}")


def parse_fault_headers(headers: Mapping[str, str]) -> Fault | None:
    """The fault asked for by ``x-fake-status`` / ``x-fake-fault``; :class:`RequestInvalid` if malformed."""
    status_value = headers.get(STATUS_HEADER)
    if status_value is not None:
        head, params = _params(status_value, STATUS_HEADER)
        status = _status(head, STATUS_HEADER)
        ms = _number(params, "retry_after_ms", STATUS_HEADER)
        secs = _number(params, "retry_after", STATUS_HEADER)
        code = params.pop("code", None) or None
        message = params.pop("message", None) or None
        _leftover(params, STATUS_HEADER)
        if ms is not None and secs is not None:
            return Fault(f"header:{status}", status, ms / 1000, "both", code, message)
        if ms is not None:
            return Fault(f"header:{status}", status, ms / 1000, "ms", code, message)
        return Fault(f"header:{status}", status, secs, "s", code, message)
    fault_value = headers.get(FAULT_HEADER)
    if fault_value is None:
        return None
    head, params = _params(fault_value, FAULT_HEADER)
    fault: Fault
    if head == "reset":
        fault = Fault("header:reset", transport=TransportFault.RESET)
    elif head == "silence":
        seconds = _number(params, "seconds", FAULT_HEADER, 1.0) or 0.0
        fault = Fault("header:silence", transport=TransportFault.SILENCE, silence_s=seconds)
    elif head == "cut":
        after = _count(params, "after_tokens", FAULT_HEADER)
        fault = Fault(f"header:cut_after={after or 0}", cut_after_tokens=after or 0)
    elif head == "error":
        after = _count(params, "after_tokens", FAULT_HEADER) or 0
        status = _status(params.pop("status", "500"), FAULT_HEADER)
        fault = Fault(f"header:stream_error_after={after}", status=status, error_after_tokens=after)
    elif head == "slow":
        seconds = _number(params, "seconds", FAULT_HEADER, 1.0) or 0.0
        fault = Fault(f"header:slow={seconds:g}", extra_ttft_s=seconds)
    else:
        raise RequestInvalid(FAULT_HEADER, f"expected reset, silence, cut, error or slow; got {head[:40]!r}")
    _leftover(params, FAULT_HEADER)
    return fault
