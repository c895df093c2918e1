"""What to do wrong to one request: a :class:`Fault`, and the per-request test headers that ask for one.

The provider core asks each of its fault sources, in order, "which fault applies to this request?"
(:data:`fake_provider.context.FaultSource`) and merges the answers by the overlap rule: the first *failure* (an error
status, a transport fault, a stream fault, slow headers) wins; *latency* (``extra_ttft_s``,
``inter_token_s``) adds up. Two sources exist: the test headers below (only with
``allow_fault_headers``) and the seeded schedule (:mod:`fake_provider.schedule`).

Header grammar: ``;``-separated items; the first names the fault (a flag, or ``name=value``), the
others are its parameters. Values are case-insensitive::

    x-fake-status: 429                          # that provider's real 429 body and headers
    x-fake-status: 429; retry_after_ms=300      # … with retry-after-ms: 300 (Gemini: RetryInfo 0.300s)
    x-fake-fault: status=429; retry_after=2     # the same as x-fake-status: 429; retry_after=2
    x-fake-fault: status=503; retry_after_date=2   # retry-after as an HTTP date two seconds ahead
    x-fake-fault: reset                         # TCP reset before any byte
    x-fake-fault: silence_s=5                   # accept, read, say nothing for 5 s, then drop
    x-fake-fault: slow_headers_s=2              # the status line 2 s late
    x-fake-fault: ttft_s=3                      # 3 s more before the first byte / first token
    x-fake-fault: inter_token_s=0.2             # 0.2 s more between stream chunks
    x-fake-fault: stream_cut_after=5            # stream: 5 text chunks, then the connection drops
    x-fake-fault: stall_after=3; stall_s=2      # stream: 3 chunks, 2 s of nothing, then the rest
    x-fake-fault: stall_after=3; stall_s=2; then=close   # … then the connection drops
    x-fake-fault: malformed_at=4                # stream: the 4th text chunk is not valid JSON
    x-fake-fault: no_done                       # stream: no terminator ([DONE], message_stop)
    x-fake-fault: stream_error_after=2; status=529   # stream: the provider's mid-stream error event
    x-fake-fault: context_length                # the provider's context-length 400
    x-fake-fault: content_filter                # the provider's content-filter 400
    x-fake-fault: invalid_json                  # structured output / tool arguments that are not valid JSON
    x-fake-fault: schema_violation              # … valid JSON that breaks the schema

Part 1's spellings still work: ``silence; seconds=1.5``, ``cut; after_tokens=3``,
``error; after_tokens=3; status=529``, ``slow; seconds=0.5``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from fake_provider.plan import TransportFault
from harness.wire.neutral import RequestInvalid

__all__ = ["FAULT_HEADER", "STATUS_HEADER", "Fault", "merge_faults", "parse_fault_headers"]

STATUS_HEADER = "x-fake-status"
FAULT_HEADER = "x-fake-fault"
RETRY_UNITS = ("s", "ms", "both", "date")


@dataclass(slots=True)  # not frozen: one is built per request of a latency fault; treat as read-only
class Fault:
    """A fault applied to one request; the plan builders read it (never change one: the schedule's are shared).

    Not a frozen dataclass: a frozen one's ``__init__`` sets its 26 fields through ``object.__setattr__``,
    5 µs a fault, and every request a latency fault matches gets one of its own (its drawn delays).
    """

    name: str  # for the request log: "header:429", "outage#0", "brownout#1+latency#2" …
    status: int | None = None  # answer with this error status, in the provider's shape
    retry_after_s: float | None = None  # retry hint to send with the error
    retry_unit: str = "s"  # "s": retry-after (seconds), "ms": retry-after-ms, "both", "date": an HTTP date
    code: str | None = None  # error type / code override (e.g. "insufficient_quota")
    message: str | None = None  # error message override
    transport: TransportFault | None = None  # reset / silence instead of any HTTP answer
    silence_s: float = 0.0  # for TransportFault.SILENCE
    cut_after_tokens: int | None = None  # streams: abort the connection after this many output tokens
    error_after_tokens: int | None = None  # streams: send an error event (``status``) after this many
    extra_ttft_s: float = 0.0  # added before the first token (latency: stacks)
    # -- added with the fault schedule -----------------------------------------------------------
    inter_token_s: float = 0.0  # added between stream chunks (latency: stacks)
    headers_delay_s: float = 0.0  # slow headers: the status line this much later
    cut_after_chunks: int | None = None  # streams: abort after this many text chunks
    error_after_chunks: int | None = None  # streams: the mid-stream error event after this many text chunks
    stall_after_chunks: int | None = None  # streams: after this many text chunks, wait ``stall_s``
    stall_s: float = 0.0
    stall_close: bool = False  # after the stall, drop the connection instead of resuming
    malformed_at: int | None = None  # streams: text chunk number ``malformed_at`` (from 1) is not valid JSON
    no_done: bool = False  # streams: leave out the terminator ([DONE], message_stop)
    special: str | None = None  # "context_length" | "content_filter": the provider's own 400 for it
    rate_limit_headers: bool = False  # a 429 that also carries the provider's rate-limit headers
    streams_only: bool = False  # a stream fault: requests that are not streamed do not match it
    #: "invalid_json" | "schema_violation": a 200 whose structured output or tool arguments break the contract
    output: str | None = None
    # -- shape: the answer less some headers / JSON fields (fake_provider.shape_faults); stacks ----
    drop_headers: tuple[str, ...] = ()  # response headers left out
    drop_fields: tuple[str, ...] = ()  # dotted JSON paths left out of the body and every stream event

    @property
    def failure(self) -> bool:
        """Whether this fault changes the outcome (not only its timing)."""
        return (
            self.status is not None
            or self.transport is not None
            or self.special is not None
            or self.headers_delay_s > 0
            or self.cut_after_tokens is not None
            or self.cut_after_chunks is not None
            or self.error_after_chunks is not None
            or self.stall_after_chunks is not None
            or self.malformed_at is not None
            or self.no_done
            or self.output is not None
        )

    @property
    def stream_fault(self) -> bool:
        return (
            self.cut_after_chunks is not None
            or self.error_after_chunks is not None
            or self.stall_after_chunks is not None
            or self.malformed_at is not None
            or self.no_done
            or self.cut_after_tokens is not None
            or self.error_after_tokens is not None
        )


def merge_faults(first: Fault | None, second: Fault | None) -> Fault | None:
    """The overlap rule: ``first``'s failure wins over ``second``'s; latencies add up, dropped headers and
    fields unite; names join with "+"."""
    if first is None:
        return second
    if second is None:
        return first
    if first.failure or not second.failure:
        owner, other = first, second
    else:
        owner, other = second, first
    if not (other.extra_ttft_s or other.inter_token_s or other.drop_headers or other.drop_fields):
        return owner if owner is first else replace(owner, name=f"{first.name}+{second.name}")
    return replace(
        owner,
        name=f"{first.name}+{second.name}",
        extra_ttft_s=owner.extra_ttft_s + other.extra_ttft_s,
        inter_token_s=owner.inter_token_s + other.inter_token_s,
        drop_headers=tuple(dict.fromkeys((*owner.drop_headers, *other.drop_headers))),
        drop_fields=tuple(dict.fromkeys((*owner.drop_fields, *other.drop_fields))),
    )


def _params(value: str, header: str) -> tuple[str, str | None, dict[str, str]]:
    """``(head, head value, parameters)`` of a header value."""
    head, *rest = (p.strip() for p in value.split(";"))
    params: dict[str, str] = {}
    for item in rest:
        if not item:
            continue
        name, sep, val = item.partition("=")
        if not sep or not name.strip():
            raise RequestInvalid(header, f"expected name=value parameters after ';', got {item[:40]!r}")
        params[name.strip().lower()] = val.strip()
    name, sep, val = head.partition("=")
    return name.strip().lower(), (val.strip() if sep else None), params


def _seconds(raw: str | None, name: str, header: str, default: float | None = None) -> float | None:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0 or value > 3600:
        raise RequestInvalid(header, f"{name}: expected a number of seconds in [0, 3600], got {raw[:40]!r}")
    return value


def _number(params: dict[str, str], name: str, header: str, default: float | None = None) -> float | None:
    return _seconds(params.pop(name, None), name, header, default)


def _whole(raw: str | None, name: str, header: str) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise RequestInvalid(header, f"{name}: expected a whole number ≥ 0, got {raw[:40]!r}")
    return int(raw)


def _count(params: dict[str, str], name: str, header: str) -> int | None:
    return _whole(params.pop(name, None), name, header)


def _status(raw: str | None, header: str) -> int:
    if raw is None or len(raw) != 3 or not (raw.isascii() and raw.isdigit()) or not 400 <= int(raw) <= 599:
        raise RequestInvalid(header, f"expected an HTTP error status 400-599, got {(raw or '')[:40]!r}")
    return int(raw)


def _leftover(params: dict[str, str], header: str) -> None:
    if params:
        raise RequestInvalid(header, f"unknown parameter {sorted(params)[0][:40]!r}")


def _status_fault(status: int, params: dict[str, str], header: str) -> Fault:
    """An error status with its retry hint (``retry_after``, ``retry_after_ms``, ``retry_after_date``)."""
    ms = _number(params, "retry_after_ms", header)
    secs = _number(params, "retry_after", header)
    date = _number(params, "retry_after_date", header)
    code = params.pop("code", None) or None
    message = params.pop("message", None) or None
    _leftover(params, header)
    name = f"header:{status}"
    if date is not None:
        return Fault(name, status, date, "date", code, message)
    if ms is not None and secs is not None:
        return Fault(name, status, ms / 1000, "both", code, message)
    if ms is not None:
        return Fault(name, status, ms / 1000, "ms", code, message)
    return Fault(name, status, secs, "s", code, message)


def parse_fault_headers(headers: Mapping[str, str]) -> Fault | None:
    """The fault asked for by ``x-fake-status`` / ``x-fake-fault``; :class:`RequestInvalid` if malformed."""
    status_value = headers.get(STATUS_HEADER)
    if status_value is not None:
        head, value, params = _params(status_value, STATUS_HEADER)
        if value is not None:
            raise RequestInvalid(STATUS_HEADER, f"expected an HTTP error status 400-599, got {status_value[:40]!r}")
        return _status_fault(_status(head, STATUS_HEADER), params, STATUS_HEADER)
    fault_value = headers.get(FAULT_HEADER)
    if fault_value is None:
        return None
    head, value, params = _params(fault_value, FAULT_HEADER)
    parse = _KINDS.get(head)
    if parse is None or (value is None) != (head in _FLAGS):
        expected = ", ".join(sorted(_KINDS))
        raise RequestInvalid(FAULT_HEADER, f"expected one of {expected}; got {fault_value.split(';')[0][:40]!r}")
    fault = parse(value, params)
    _leftover(params, FAULT_HEADER)
    return fault


_H = FAULT_HEADER


def _silence(value: str | None, params: dict[str, str]) -> Fault:
    seconds = _seconds(value, "silence_s", _H) if value is not None else _number(params, "seconds", _H, 1.0)
    return Fault("header:silence", transport=TransportFault.SILENCE, silence_s=seconds or 0.0)


def _cut(value: str | None, params: dict[str, str]) -> Fault:
    if value is not None:
        after = _whole(value, "stream_cut_after", _H) or 0
        return Fault(f"header:stream_cut_after={after}", cut_after_chunks=after)
    tokens = _count(params, "after_tokens", _H) or 0
    return Fault(f"header:cut_after={tokens}", cut_after_tokens=tokens)


def _error(value: str | None, params: dict[str, str]) -> Fault:
    raw_status = params.pop("status", None)
    status = None if raw_status is None else _status(raw_status, _H)  # None: the provider's usual one
    if value is None:  # part 1's spelling: error; after_tokens=N; status=S (default 500)
        tokens = _count(params, "after_tokens", _H) or 0
        return Fault(f"header:stream_error_after={tokens}", status=status or 500, error_after_tokens=tokens)
    after = _whole(value, "stream_error_after", _H) or 0
    return Fault(f"header:stream_error_after={after}", status=status, error_after_chunks=after)


def _slow(value: str | None, params: dict[str, str]) -> Fault:
    seconds = _seconds(value, "ttft_s", _H) if value is not None else _number(params, "seconds", _H, 1.0)
    seconds = seconds or 0.0
    return Fault(f"header:{'ttft_s' if value is not None else 'slow'}={seconds:g}", extra_ttft_s=seconds)


def _inter_token(value: str | None, params: dict[str, str]) -> Fault:
    seconds = _seconds(value, "inter_token_s", _H) or 0.0
    return Fault(f"header:inter_token_s={seconds:g}", inter_token_s=seconds)


def _slow_headers(value: str | None, params: dict[str, str]) -> Fault:
    seconds = _seconds(value, "slow_headers_s", _H) or 0.0
    return Fault(f"header:slow_headers_s={seconds:g}", headers_delay_s=seconds)


def _stall(value: str | None, params: dict[str, str]) -> Fault:
    after = _whole(value, "stall_after", _H) or 0
    seconds = _number(params, "stall_s", _H, 1.0) or 0.0
    then = params.pop("then", "resume").lower()
    if then not in ("resume", "close"):
        raise RequestInvalid(_H, f"then: expected resume or close, got {then[:40]!r}")
    close = then == "close"
    return Fault(f"header:stall_after={after}", stall_after_chunks=after, stall_s=seconds, stall_close=close)


def _malformed(value: str | None, params: dict[str, str]) -> Fault:
    at = _whole(value, "malformed_at", _H) or 0
    if at < 1:
        raise RequestInvalid(_H, f"malformed_at: expected a chunk number ≥ 1, got {value!r}")
    return Fault(f"header:malformed_at={at}", malformed_at=at)


def _status_kind(value: str | None, params: dict[str, str]) -> Fault:
    return _status_fault(_status(value, _H), params, _H)


_KINDS: dict[str, Callable[[str | None, dict[str, str]], Fault]] = {
    "reset": lambda v, p: Fault("header:reset", transport=TransportFault.RESET),
    "silence": _silence,
    "silence_s": _silence,
    "cut": _cut,
    "stream_cut_after": _cut,
    "error": _error,
    "stream_error_after": _error,
    "slow": _slow,
    "ttft_s": _slow,
    "inter_token_s": _inter_token,
    "slow_headers_s": _slow_headers,
    "stall_after": _stall,
    "malformed_at": _malformed,
    "no_done": lambda v, p: Fault("header:no_done", no_done=True),
    "status": _status_kind,
    "context_length": lambda v, p: Fault("header:context_length", status=400, special="context_length"),
    "content_filter": lambda v, p: Fault("header:content_filter", status=400, special="content_filter"),
    "invalid_json": lambda v, p: Fault("header:invalid_json", output="invalid_json"),
    "schema_violation": lambda v, p: Fault("header:schema_violation", output="schema_violation"),
}
_FLAGS = frozenset(
    {
        "reset", "silence", "cut", "error", "slow", "no_done", "context_length", "content_filter", "invalid_json",
        "schema_violation",
    }
)  # fmt: skip
