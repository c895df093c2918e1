"""One declared fault of the schedule: its kind, window, targets and parameters, and how it is read.

:func:`parse_spec` reads one ``[[faults]]`` table (the same shape ``POST /_fake/faults`` takes as
JSON) into a :class:`FaultSpec`, with a :class:`~harness.errors.ConfigError` naming the field for a
bad one; the kinds and their parameters are in ``docs/faults.md``. :class:`RequestTraits` is what a
targeted fault looks at in a request. When a spec applies to a request, and with which draws, is
decided by :class:`fake_provider.schedule.FaultSchedule`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from fake_provider.fault import Fault
from fake_provider.plan import TransportFault
from harness.distributions import Distribution
from harness.validate import Table, describe

__all__ = [
    "FAILURE_KINDS",
    "KINDS",
    "LATENCY_KINDS",
    "OUTPUT_KINDS",
    "SHAPE_KINDS",
    "STREAM_KINDS",
    "FaultSpec",
    "RequestTraits",
    "key_label",
    "parse_spec",
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


def parse_spec(t: Table, index: int) -> FaultSpec:
    """One fault table (``[[faults]]`` entry ``index``); a bad one raises
    :class:`~harness.errors.ConfigError` naming the field."""
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
