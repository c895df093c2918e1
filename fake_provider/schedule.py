"""The fault schedule: faults declared as data, on a timeline, decided per request from the seed.

A scenario declares it as an array of tables (``POST /_fake/faults`` takes the same shape as JSON)::

    [[faults]]                      # faults[0]: every matching request fails from t = 120 s to 300 s
    kind = "outage"
    start_s = 120
    duration_s = 180
    models = ["gpt-4o-mini"]

    [[faults]]                      # faults[1]: 10 % of Anthropic requests get a 529, the whole run
    kind = "brownout"
    always = true
    p = 0.1
    apis = ["anthropic"]

Every fault has a kind, a window (``start_s`` from the start of the run and ``duration_s``, or
``always = true``) and targets (``models``, ``apis``, ``keys``, ``clients``, ``fraction``); the kinds
and their parameters are in ``docs/faults.md``. Windows are half-open, ``start_s ≤ t < start_s +
duration_s``, with ``t`` the arrival time since the provider started (or since ``POST /_fake/reset``).

The overlap rule: of the *failure* faults that match a request (window, targets and fraction; a
brownout's draw, a flapping fault's down phase; a stream fault needs a streamed request), the first
in declaration order applies; *latency* faults (``latency``, ``queueing``) that match all apply,
their delays added to whatever the outcome is.

Determinism: each random choice (fraction and brownout selection, status choice, latency samples) is
a hash of (seed, fault index, arrival number, purpose) — no shared random generator whose state
depends on the interleaving of requests — so the same seed and the same arrivals give the same
faults, and any decision can be recomputed from the request log (the arrival number is the last
eight hex digits of the request id).

The declared faults and how a table is read are in :mod:`fake_provider.fault_spec`; this module
decides, per request, which of them apply.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from fake_provider.fault import Fault
from fake_provider.fault_spec import OUTPUT_KINDS, STREAM_KINDS, FaultSpec, RequestTraits, parse_spec
from harness.errors import ConfigError
from harness.validate import Table, describe
from harness.wire.neutral import ChatCall

__all__ = ["FaultSchedule", "unit_draw"]


# draw purposes: each random choice of a fault has its own stream
_FRACTION, _BROWNOUT, _STATUS, _TTFT, _INTER = range(5)
_MASK = (1 << 64) - 1


def _mix(z: int) -> int:
    """SplitMix64's finaliser: a bijection on 64-bit integers with good avalanche."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@functools.lru_cache(maxsize=1024)
def _stream(seed: int, index: int, purpose: int) -> int:
    """The 64-bit stream of one random choice of one fault under one seed (SplitMix64's state)."""
    return _mix((seed * 0x9E3779B97F4A7C15 + ((index << 4) | purpose) * 0xD1B54A32D192ED03) & _MASK)


def unit_draw(seed: int, index: int, arrival: int, purpose: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, fault index, arrival number, purpose)."""
    z = (_stream(seed, index, purpose) + arrival * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) * (1.0 / (1 << 53))


class FaultSchedule:
    """An ordered list of :class:`FaultSpec`; decides the fault of each request."""

    __slots__ = ("specs",)

    def __init__(self, specs: Iterable[FaultSpec] = ()) -> None:
        self.specs: tuple[FaultSpec, ...] = tuple(specs)

    def __bool__(self) -> bool:
        return bool(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def __repr__(self) -> str:
        return f"FaultSchedule({', '.join(s.label for s in self.specs)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FaultSchedule) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def parse(cls, tables: object, path: str = "faults") -> FaultSchedule:
        """Read an array of fault tables; a bad one raises :class:`ConfigError` naming the field."""
        if not isinstance(tables, list):
            raise ConfigError(path, f"expected an array of tables, got {describe(tables)}")
        return cls(parse_spec(Table(item, f"{path}[{i}]"), i) for i, item in enumerate(tables))

    @classmethod
    def from_json(cls, data: object) -> FaultSchedule:
        """The body of ``POST /_fake/faults``: ``{"faults": [...]}`` (or the bare array)."""
        if isinstance(data, Mapping):
            t = Table(data)
            tables = t.raw("faults")
            t.done()
            return cls.parse(tables)
        return cls.parse(data)

    def to_dict(self) -> dict[str, Any]:
        """``{"faults": [...]}``: what :meth:`from_json` reads back (keys appear as their log hashes)."""
        return {"faults": [spec.to_dict() for spec in self.specs]}

    # -- deciding ------------------------------------------------------------------------------
    def decide(
        self, ctx: RequestTraits, t: float, arrival: int, seed: int, in_flight: int = 0, decided: bool = False
    ) -> Fault | None:
        """The fault for a request arriving ``t`` s into the run as arrival number ``arrival``.

        ``in_flight`` is the number of other requests the provider is serving (queueing latency);
        ``decided``: a failure was already chosen for this request (a test header), only latency applies.
        """
        failure: Fault | None = None
        labels: list[str] = []
        ttft = inter = 0.0
        drop_headers: tuple[str, ...] = ()
        drop_fields: tuple[str, ...] = ()
        for spec in self.specs:
            if not spec.start_s <= t < spec.end_s or (spec.targeted and not spec.matches(ctx)):
                continue
            index = spec.index
            if spec.fraction < 1.0 and unit_draw(seed, index, arrival, _FRACTION) >= spec.fraction:
                continue
            kind = spec.kind
            if kind == "latency":
                if spec.ttft is not None:
                    ttft += spec.ttft.at(unit_draw(seed, index, arrival, _TTFT))
                if spec.inter_token is not None:
                    inter += spec.inter_token.at(unit_draw(seed, index, arrival, _INTER))
                labels.append(spec.label)
                continue
            if kind == "queueing":
                assert spec.ttft is not None
                base = spec.ttft.at(unit_draw(seed, index, arrival, _TTFT))
                ttft += base * (1.0 + in_flight / spec.capacity)
                labels.append(spec.label)
                continue
            if kind == "drop":
                drop_headers += spec.drop_headers
                drop_fields += spec.drop_fields
                labels.append(spec.label)
                continue
            if failure is not None or decided:
                continue
            if kind == "brownout" and unit_draw(seed, index, arrival, _BROWNOUT) >= spec.p:
                continue
            if kind == "flapping" and not spec.down(t):
                continue
            if kind in STREAM_KINDS and not ctx.stream:
                continue
            if kind in OUTPUT_KINDS and not _has_contract(ctx):
                continue
            failure = spec.fault
            choices = spec.choices
            if choices:
                failure = choices[min(int(unit_draw(seed, index, arrival, _STATUS) * len(choices)), len(choices) - 1)]
            if failure is not None:
                labels.append(spec.label)
        if failure is None and not labels:
            return None
        name = "+".join(labels)
        if failure is None:
            return Fault(
                name, extra_ttft_s=ttft, inter_token_s=inter, drop_headers=drop_headers, drop_fields=drop_fields
            )
        if ttft or inter or drop_headers or drop_fields or name != failure.name:
            return replace(
                failure,
                name=name,
                extra_ttft_s=failure.extra_ttft_s + ttft,
                inter_token_s=failure.inter_token_s + inter,
                drop_headers=drop_headers,
                drop_fields=drop_fields,
            )
        return failure


def _has_contract(ctx: RequestTraits) -> bool:
    """Whether the answer has a structured contract an output fault can break (JSON output or a tool call)."""
    call = ctx.call
    extras = call.extras if isinstance(call, ChatCall) else None
    return extras is not None and (extras.output != "text" or extras.calls_tools)
