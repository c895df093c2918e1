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
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from fake_provider.fault import Fault
from fake_provider.plan import TransportFault
from harness.distributions import Distribution
from harness.errors import ConfigError
from harness.validate import Table, describe
from harness.wire.neutral import ChatCall

__all__ = [
    "FAILURE_KINDS",
    "KINDS",
    "LATENCY_KINDS",
    "SHAPE_KINDS",
    "FaultSchedule",
    "FaultSpec",
    "RequestTraits",
    "key_label",
    "unit_draw",
]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class RequestTraits(Protocol):
    """What a targeted fault looks at in a request (:class:`fake_provider.context.CallContext` has it)."""

    @property
    def model(self) -> _Named | None: ...  # the resolved model, if any
    @property
    def model_name(self) -> str | None: ...  # the model as requested
    @property
    def provider(self) -> str: ...  # "openai" | "anthropic" | "gemini"
    @property
    def api(self) -> str: ...  # "openai.chat" …
    @property
    def client(self) -> str: ...  # "key:<hash>" of the API key
    @property
    def client_id(self) -> str | None: ...  # x-client-id
    @property
    def stream(self) -> bool: ...
    @property
    def call(self) -> object: ...  # the validated request (a ChatCall carries the extras output faults need)


FAILURE_KINDS = (
    "http",
    "context_length",
    "content_filter",
    "outage",
    "brownout",
    "flapping",
    "reset",
    "silence",
    "slow_headers",
    "stream_cut",
    "stream_stall",
    "malformed_chunk",
    "no_done",
    "stream_error",
    "invalid_json",
    "schema_violation",
)
LATENCY_KINDS = ("latency", "queueing")
SHAPE_KINDS = ("drop",)  # change the answer's shape, not its outcome or timing; stack like latency
KINDS = FAILURE_KINDS + LATENCY_KINDS + SHAPE_KINDS
STREAM_KINDS = frozenset({"stream_cut", "stream_stall", "malformed_chunk", "no_done", "stream_error"})
#: faults of structured answers: requests without a contract (JSON output, a tool call) do not match them
OUTPUT_KINDS = frozenset({"invalid_json", "schema_violation"})
_OUTAGE_KINDS = frozenset({"outage", "brownout", "flapping"})
PROVIDERS = ("openai", "anthropic", "gemini")
APIS = ("openai.chat", "openai.embeddings", "anthropic.messages", "gemini.generate")
RETRY_FORMATS = {"seconds": "s", "ms": "ms", "both": "both", "date": "date"}

_KEY_LABEL = re.compile(r"key:[0-9a-f]{12}")  # a key given as its request-log hash
_WINDOW_AND_TARGETS = ("always", "start_s", "duration_s", "models", "apis", "keys", "clients", "fraction")
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


def key_label(key: str) -> str:
    """How the request log names an API key: ``key:`` and a short BLAKE2 hash (never the key)."""
    from fake_provider.textgen import request_digest

    return "key:" + request_digest(key)[:6].hex()


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One declared fault: where it applies (window, targets) and what it does (kind, parameters)."""

    index: int  # position in the schedule: part of its label and of its random draws
    kind: str
    start_s: float = 0.0
    end_s: float = float("inf")  # start_s + duration_s; infinity for ``always``
    models: frozenset[str] | None = None  # None: any
    apis: frozenset[str] | None = None  # providers ("openai") or APIs ("openai.chat")
    keys: frozenset[str] | None = None  # key labels ("key:…")
    clients: frozenset[str] | None = None  # x-client-id values
    fraction: float = 1.0  # of the requests the rest selects
    fault: Fault | None = None  # what a failure kind does (statuses[0] for a status choice)
    statuses: tuple[int, ...] = ()  # a choice of statuses, drawn per request
    p: float = 1.0  # brownout: the share of matching requests that fail
    down_s: float = 0.0  # flapping: down for down_s, then up for up_s, repeating
    up_s: float = 0.0
    ttft: Distribution | None = None  # latency: added before the first byte; queueing: the base
    inter_token: Distribution | None = None  # latency: added between stream chunks
    capacity: int = 0  # queueing: delay = base × (1 + in_flight / capacity)
    drop_headers: tuple[str, ...] = ()  # drop: response headers left out
    drop_fields: tuple[str, ...] = ()  # drop: dotted JSON paths left out
    params: Mapping[str, Any] = field(default_factory=dict)  # the declaration, for to_dict (keys hashed)
    targeted: bool = field(init=False, default=False, compare=False)  # has a target besides the window
    label: str = field(init=False, default="", compare=False)  # "kind#index", as the request log names it
    choices: tuple[Fault, ...] = field(init=False, default=(), compare=False)  # one fault per status choice

    def __post_init__(self) -> None:
        targets = (self.models, self.apis, self.keys, self.clients)
        object.__setattr__(self, "targeted", any(t is not None for t in targets))
        object.__setattr__(self, "label", f"{self.kind}#{self.index}")
        if len(self.statuses) > 1 and self.fault is not None:
            object.__setattr__(self, "choices", tuple(replace(self.fault, status=s) for s in self.statuses))

    @property
    def latency(self) -> bool:
        return self.kind in LATENCY_KINDS

    def active(self, t: float) -> bool:
        """Whether ``t`` (seconds since the start of the run) falls in the window."""
        return self.start_s <= t < self.end_s

    def down(self, t: float) -> bool:
        """Flapping: whether ``t`` is in a down phase."""
        return (t - self.start_s) % (self.down_s + self.up_s) < self.down_s

    def matches(self, ctx: RequestTraits) -> bool:
        """Whether the request is a target (window and fraction aside)."""
        if self.models is not None:
            model = ctx.model
            if (model is None or model.name not in self.models) and ctx.model_name not in self.models:
                return False
        if self.apis is not None and ctx.provider not in self.apis and ctx.api not in self.apis:
            return False
        if self.keys is not None and ctx.client not in self.keys:
            return False
        return self.clients is None or ctx.client_id in self.clients

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.params}


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
        return cls(_parse_spec(Table(item, f"{path}[{i}]"), i) for i, item in enumerate(tables))

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


# ------------------------------------------------------------------------------------------- parsing
def _names(t: Table, key: str, allowed: Iterable[str] | None = None) -> frozenset[str] | None:
    values = t.str_list(key, None)
    if values is None:
        return None
    if allowed is not None:
        known = tuple(allowed)
        for value in values:
            if value not in known:
                raise t.error(key, f"expected names from {', '.join(known)}; got {describe(value)}")
    return frozenset(values)


def _status_value(t: Table, key: str) -> tuple[int, ...]:
    """An error status or a list to choose from; () when absent."""
    raw = t.raw(key, None)
    if raw is None:
        return ()
    values = raw if isinstance(raw, list) else [raw]
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or not 400 <= v <= 599 for v in values):
        raise t.error(key, f"expected an HTTP error status 400-599 or a list of them, got {describe(raw)}")
    return tuple(values)


def _retry(t: Table, params: dict[str, Any]) -> tuple[float | None, str]:
    hint = t.float("retry_after_s", None, min=0, max=3600)
    fmt = t.choice("retry_format", tuple(RETRY_FORMATS), "seconds")
    if hint is not None:
        params["retry_after_s"] = hint
        params["retry_format"] = fmt
    return hint, RETRY_FORMATS[fmt]


def _dist(t: Table, key: str, params: dict[str, Any], required: bool = False) -> Distribution | None:
    if not t.has(key):
        if required:
            t.raw(key)  # raises "required key is missing"
        return None
    raw = t.raw(key)
    params[key] = raw
    return Distribution.parse(raw, t.field(key))


def _parse_spec(t: Table, index: int) -> FaultSpec:
    kind = t.choice("kind", KINDS)
    params: dict[str, Any] = {}
    spec: dict[str, Any] = {"index": index, "kind": kind}
    label = f"{kind}#{index}"

    # window
    always = t.bool("always", False)
    start = t.float("start_s", 0.0, min=0)
    if always:
        if t.has("duration_s"):
            raise t.error("always", "give either always = true or a duration_s, not both")
        if t.has("start_s"):
            raise t.error("always", "give either always = true or a start_s, not both")
        params["always"] = True
    else:
        if not t.has("duration_s"):
            raise t.error("duration_s", "required key is missing (or set always = true)")
        duration = t.float("duration_s", min=0)
        spec["start_s"], spec["end_s"] = start, start + duration
        params["start_s"], params["duration_s"] = start, duration

    # targets
    for key, allowed in (("models", None), ("apis", PROVIDERS + APIS), ("clients", None)):
        names = _names(t, key, allowed)
        if names is not None:
            spec[key] = names
            params[key] = sorted(names)
    keys = t.raw("keys", None)
    if isinstance(keys, str):
        keys = [keys]
    if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys)):
        # never echo the value: it holds API keys
        raise t.error("keys", "expected a list of non-empty strings (API keys or their key:… hashes)")
    if keys is not None:
        labels = frozenset(k if _KEY_LABEL.fullmatch(k) else key_label(k) for k in keys)
        spec["keys"] = labels
        params["keys"] = sorted(labels)
    fraction = t.float("fraction", 1.0, min=0, max=1, exclusive_min=True)
    spec["fraction"] = fraction
    if fraction < 1.0:
        params["fraction"] = fraction

    # what it does
    if kind in ("http", *_OUTAGE_KINDS):
        statuses = _status_value(t, "status")
        if kind == "http" and not statuses:
            raise t.error("status", "required key is missing")
        if statuses:
            params["status"] = list(statuses) if len(statuses) > 1 else statuses[0]
        hint, unit = _retry(t, params)
        code = t.str("code", None)
        message = t.str("message", None)
        params.update({k: v for k, v in (("code", code), ("message", message)) if v is not None})
        if kind == "brownout":
            spec["p"] = params["p"] = t.float("p", min=0, max=1, exclusive_min=True)
        if kind == "flapping":
            spec["down_s"] = params["down_s"] = t.float("down_s", min=0, exclusive_min=True)
            spec["up_s"] = params["up_s"] = t.float("up_s", min=0, exclusive_min=True)
        spec["statuses"] = statuses
        spec["fault"] = Fault(
            label,
            statuses[0] if statuses else None,
            hint,
            unit,
            code,
            message,
            special=None if statuses else "overloaded",  # no status: the provider's own "overloaded"
            rate_limit_headers=429 in statuses,
        )
    elif kind == "context_length":
        spec["fault"] = Fault(label, 400, special="context_length")
    elif kind in OUTPUT_KINDS:
        spec["fault"] = Fault(label, output=kind)
    elif kind == "content_filter":
        spec["fault"] = Fault(label, 400, special="content_filter")
    elif kind == "reset":
        spec["fault"] = Fault(label, transport=TransportFault.RESET)
    elif kind == "silence":
        seconds = params["silence_s"] = t.float("silence_s", min=0, max=3600)
        spec["fault"] = Fault(label, transport=TransportFault.SILENCE, silence_s=seconds)
    elif kind == "slow_headers":
        seconds = params["seconds"] = t.float("seconds", min=0, max=3600, exclusive_min=True)
        spec["fault"] = Fault(label, headers_delay_s=seconds)
    elif kind == "stream_cut":
        after = params["after"] = t.int("after", min=0)
        spec["fault"] = Fault(label, cut_after_chunks=after, streams_only=True)
    elif kind == "stream_stall":
        after = params["after"] = t.int("after", min=0)
        stall = params["stall_s"] = t.float("stall_s", min=0, max=3600, exclusive_min=True)
        then = params["then"] = t.choice("then", ("resume", "close"), "resume")
        spec["fault"] = Fault(
            label, stall_after_chunks=after, stall_s=stall, stall_close=then == "close", streams_only=True
        )
    elif kind == "malformed_chunk":
        at = params["at"] = t.int("at", min=1)
        spec["fault"] = Fault(label, malformed_at=at, streams_only=True)
    elif kind == "no_done":
        spec["fault"] = Fault(label, no_done=True, streams_only=True)
    elif kind == "stream_error":
        after = params["after"] = t.int("after", min=0)
        statuses = _status_value(t, "status")
        if len(statuses) > 1:
            raise t.error("status", f"expected one HTTP error status, got {describe(t.raw('status'))}")
        if statuses:
            params["status"] = statuses[0]
        message = t.str("message", None)
        if message is not None:
            params["message"] = message
        status = statuses[0] if statuses else None
        spec["fault"] = Fault(label, status, message=message, error_after_chunks=after, streams_only=True)
    elif kind == "latency":
        spec["ttft"] = _dist(t, "ttft", params)
        spec["inter_token"] = _dist(t, "inter_token", params)
        if spec["ttft"] is None and spec["inter_token"] is None:
            raise t.error("ttft", "a latency fault needs ttft, inter_token or both")
    elif kind == "drop":
        headers = t.str_list("headers", [])
        fields = t.str_list("fields", [])
        params.update({k: list(v) for k, v in (("headers", headers), ("fields", fields)) if v})
        if not headers and not fields:
            raise t.error("headers", "a drop fault needs headers, fields or both (names to leave out)")
        for path in fields:
            if any(not part for part in path.split(".")):
                raise t.error("fields", f"expected dotted JSON paths like usage.total_tokens, got {describe(path)}")
        spec["drop_headers"] = tuple(h.lower() for h in headers)
        spec["drop_fields"] = tuple(fields)
    else:  # queueing
        spec["ttft"] = _dist(t, "base", params, required=True)
        spec["capacity"] = params["capacity"] = t.int("capacity", min=1)
    t.done()
    first = {k: params.pop(k) for k in _WINDOW_AND_TARGETS if k in params}  # then the kind's own, as read
    return FaultSpec(**spec, params={**first, **params})


def _has_contract(ctx: RequestTraits) -> bool:
    """Whether the answer has a structured contract an output fault can break (JSON output or a tool call)."""
    call = ctx.call
    extras = call.extras if isinstance(call, ChatCall) else None
    return extras is not None and (extras.output != "text" or extras.calls_tools)
