"""Provider-side quotas, as the real services apply them: RPM and token limits per key and model.

Declared in the ``[provider.quotas]`` table of a scenario (``docs/faults.md`` has the format)::

    [provider.quotas]
    rpm = 500                     # requests per minute, per (key, model)
    tpm = 200000                  # prompt + max_tokens per minute (OpenAI's rule), per (key, model)
    max_in_flight = 64            # requests of one key being answered at once
    spend_cap_usd = "5.00"        # a key billed this much gets the provider's "out of credit" answer

    [provider.quotas.models."claude-haiku-4-5"]
    itpm = 50000                  # input tokens per minute (the prompt, at admission)
    otpm = 10000                  # output tokens per minute (max_tokens at admission, then the actual output)

What each limit counts, admitted at arrival:

* ``rpm``: 1 per request;
* ``tpm``: prompt tokens + ``max_tokens`` (OpenAI counts the requested maximum, not the answer; a
  request without ``max_tokens`` counts the answer it will get);
* ``itpm``: prompt tokens (Anthropic's input-token limit; also Gemini's, which counts input);
* ``otpm``: ``max_tokens`` at admission, corrected down to the tokens actually sent when the
  response ends (Anthropic's output-token limit).

Each limit is a sliding-window *log* of ``window_s`` seconds (60 by default), not a refilling
bucket: the weights admitted in any window ``(t - window_s, t]`` never exceed the limit (a bucket
refilled at the limit's rate admits up to twice the limit in some windows). A request that does not
fit is refused with the provider's 429, whose retry hint is exactly when enough of the log will
have expired for it to fit (:meth:`SlidingWindow.wait`). Requests admitted later can only move that
time, and corrections of ``otpm`` only bring it closer.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from harness.pricing import parse_decimal
from harness.validate import Table

__all__ = ["LIMIT_KINDS", "MIN_WINDOW_S", "Admission", "Limits", "QuotaBook", "QuotaConfig", "SlidingWindow"]

LIMIT_KINDS = ("rpm", "tpm", "itpm", "otpm")
_MAX_SCOPES = 50_000  # (key, model) pairs kept before idle ones are dropped


#: the shortest quota window ``[provider.quotas] window_s`` accepts, in seconds
MIN_WINDOW_S = 1.0


@dataclass(frozen=True, slots=True)
class Limits:
    """The per-minute limits of one model (``None``: no limit of that kind)."""

    rpm: int | None = None
    tpm: int | None = None
    itpm: int | None = None
    otpm: int | None = None

    def over(self, base: Limits) -> Limits:
        """These limits, with ``base``'s where these have none."""
        return Limits(*(a if a is not None else b for a, b in zip(self.values(), base.values(), strict=True)))

    def values(self) -> tuple[int | None, ...]:
        return (self.rpm, self.tpm, self.itpm, self.otpm)

    def configured(self) -> tuple[tuple[str, int], ...]:
        return tuple((kind, v) for kind, v in zip(LIMIT_KINDS, self.values(), strict=True) if v is not None)

    def to_dict(self) -> dict[str, int]:
        return dict(self.configured())

    @classmethod
    def from_table(cls, t: Table) -> Limits:
        return cls(*(t.int(kind, None, min=1) for kind in LIMIT_KINDS))


@dataclass(frozen=True, slots=True)
class QuotaConfig:
    """The ``[provider.quotas]`` table."""

    limits: Limits = Limits()  # every model's, unless overridden
    models: tuple[tuple[str, Limits], ...] = ()  # per-model overrides (field by field)
    max_in_flight: int | None = None  # per key
    spend_cap_usd: Decimal | None = None  # per key
    window_s: float = 60.0
    _index: dict[str, Limits] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, limits in self.models:
            self._index[name] = limits.over(self.limits)

    @property
    def enabled(self) -> bool:
        return bool(self.limits.configured() or self.models or self.max_in_flight or self.spend_cap_usd is not None)

    def limits_for(self, model: str) -> Limits:
        return self._index.get(model, self.limits)

    @classmethod
    def from_table(cls, t: Table, known_models: Mapping[str, object] | None = None) -> QuotaConfig:
        """Read the table; with ``known_models``, an override for an unknown model is an error."""
        limits = Limits.from_table(t)
        # a window shorter than a second is finer than any provider publishes, and below the clocks'
        # resolution it would make every arrival its own window
        window = t.float("window_s", 60.0, min=MIN_WINDOW_S, max=86_400)
        in_flight = t.int("max_in_flight", None, min=1)
        cap = t.raw("spend_cap_usd", None)
        spend = None if cap is None else parse_decimal(cap, t.field("spend_cap_usd"))
        models: list[tuple[str, Limits]] = []
        per_model = t.table("models", None)
        if per_model is not None:
            for name in list(per_model.keys()):
                if known_models is not None and name not in known_models:
                    raise per_model.error(name, f"no model named {name!r} is configured")
                model_table = per_model.table(name)
                models.append((name, Limits.from_table(model_table)))
                model_table.done()
            per_model.done()
        t.done()
        return cls(limits, tuple(models), in_flight, spend, window)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.limits.to_dict(), "window_s": self.window_s}
        if self.max_in_flight is not None:
            out["max_in_flight"] = self.max_in_flight
        if self.spend_cap_usd is not None:
            out["spend_cap_usd"] = format(self.spend_cap_usd, "f")
        if self.models:
            out["models"] = {name: limits.to_dict() for name, limits in self.models}
        return out


class SlidingWindow:
    """The weights admitted in the last ``window_s`` seconds, as a log of (time, weight) entries.

    An entry admitted at ``t`` counts in every window that contains ``t``: it stops counting at
    ``t + window_s`` exactly (``now - t ≥ window_s``). The log is two flat arrays read from a head
    index (16 bytes an entry, invisible to the garbage collector): at ten thousand requests a second a
    minute's log holds 600,000 entries.
    """

    __slots__ = ("_base", "_head", "_times", "_weights", "limit", "used", "window_s")

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times = array("d")  # admission times, oldest first; live entries from _head on
        self._weights = array("q")
        self._head = 0
        self._base = 0  # entry number of _times[0] (numbers count admissions since creation)
        self.used = 0  # sum of the live weights

    def expire(self, now: float) -> None:
        times, weights, head = self._times, self._weights, self._head
        horizon = now - self.window_s
        end = len(times)
        used = self.used
        while head < end and times[head] <= horizon:
            used -= weights[head]
            head += 1
        self.used = used
        if head > 4096 and head * 2 > end:  # drop the expired prefix now and then (amortised O(1))
            del times[:head]
            del weights[:head]
            self._base += head
            head = 0
        self._head = head

    def fits(self, weight: int) -> bool:
        return self.used + weight <= self.limit

    def wait(self, now: float, weight: int) -> float | None:
        """Seconds until ``weight`` fits (0 if it fits now); ``None`` if it never can (over the limit)."""
        last = self.last_blocking(weight)
        if last is None:
            return None
        return max(0.0, last + self.window_s - now)

    def last_blocking(self, weight: int) -> float | None:
        """The admission time of the entry whose expiry lets ``weight`` fit; ``None`` if it never can.

        ``-inf`` when it fits now. Capacity returns at ``now`` such that ``entry <= now - window_s``.
        """
        if weight > self.limit:
            return None
        need = self.used + weight - self.limit
        if need <= 0:
            return float("-inf")
        weights = self._weights
        for i in range(self._head, len(weights)):
            need -= weights[i]
            if need <= 0:
                return self._times[i]
        return self._times[-1]  # unreachable: the whole log expiring frees ``used``

    def hint_ms(self, now: float, entry: float) -> int:
        """The fewest whole milliseconds ``ms`` after which ``entry`` has expired, computed the way a client
        adds a hint to its clock: ``entry <= (now + ms / 1000) - window_s`` holds in floating point."""
        window = self.window_s
        ms = max(0, math.ceil((entry + window - now) * 1000))
        while entry > (now + ms / 1000) - window:
            ms += 1
        while ms > 0 and entry <= (now + (ms - 1) / 1000) - window:
            ms -= 1
        return ms

    def admit(self, now: float, weight: int) -> int:
        """Log ``weight`` at ``now``; returns the entry's number (for :meth:`correct`)."""
        self._times.append(now)
        self._weights.append(weight)
        self.used += weight
        return self._base + len(self._times) - 1

    def correct(self, number: int, weight: int) -> None:
        """Lower an admitted entry's weight (Anthropic's output tokens, once the answer is known)."""
        position = number - self._base
        if position < self._head:
            return  # expired already: it no longer counts
        delta = self._weights[position] - weight
        if delta > 0:
            self._weights[position] = weight
            self.used -= delta

    def __len__(self) -> int:
        return len(self._times) - self._head

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def reset_after(self, now: float) -> float:
        """Seconds until the log is empty again (the limit fully available)."""
        return self._times[-1] + self.window_s - now if len(self._times) > self._head else 0.0

    def entries(self) -> list[tuple[float, int]]:
        """The live (time, weight) entries, oldest first."""
        head = self._head
        return list(zip(self._times[head:], self._weights[head:], strict=True))

    def __repr__(self) -> str:
        return f"SlidingWindow(limit={self.limit}, used={self.used}, entries={len(self)})"


@dataclass(slots=True)
class Admission:
    """What the quota step decided for one request."""

    windows: tuple[tuple[str, SlidingWindow], ...]  # (kind, window) of the request's (key, model), for headers
    refused: str | None = None  # the kind that refused it: "rpm", "tpm", "itpm", "otpm"
    wait_s: float | None = None  # when it fits, in whole ms (never early); None: never (over the limit)
    requested: int = 0  # the refused kind's weight for this request
    used: int = 0  # the refused kind's usage at arrival
    limit: int = 0
    output_entry: int | None = None  # the otpm entry's number, corrected when the answer ends


class QuotaBook:
    """The quota state of one provider: a window per (key, model, kind), requests in flight per key."""

    __slots__ = ("_admitted", "config", "generation", "in_flight", "scopes")

    def __init__(self, config: QuotaConfig) -> None:
        self.config = config
        self.scopes: dict[tuple[str, str], tuple[tuple[str, SlidingWindow], ...]] = {}
        self._admitted: dict[tuple[tuple[str, SlidingWindow], ...], Admission] = {}
        self.in_flight: dict[str, int] = {}  # key label → requests admitted and not yet ended
        self.generation = 0  # bumped by clear(): requests admitted before it release nothing after

    def clear(self) -> None:
        self.scopes = {}
        self._admitted = {}
        self.in_flight = {}
        self.generation += 1

    def windows(self, client: str, model: str) -> tuple[tuple[str, SlidingWindow], ...]:
        key = (client, model)
        windows = self.scopes.get(key)
        if windows is None:
            window_s = self.config.window_s
            configured = self.config.limits_for(model).configured()
            windows = self.scopes[key] = tuple((kind, SlidingWindow(limit, window_s)) for kind, limit in configured)
        return windows

    def admit(self, now: float, client: str, model: str, prompt: int, output: int) -> Admission:
        """Admit (or refuse) a request of ``prompt`` tokens that may produce ``output`` tokens."""
        windows = self.scopes.get((client, model))
        if windows is None:
            if len(self.scopes) >= _MAX_SCOPES:
                self._prune(now)
            windows = self.windows(client, model)
        refused = False
        for kind, window in windows:  # the request path: kept flat, it runs for every request of a limited key
            times, head = window._times, window._head
            if head < len(times) and times[head] <= now - window.window_s:
                window.expire(now)
            weight = 1 if kind == "rpm" else prompt + output if kind == "tpm" else prompt if kind == "itpm" else output
            if window.used + weight > window.limit:
                refused = True
        if refused:
            return self._refusal(now, windows, prompt, output)
        entry = None
        for kind, window in windows:
            weight = 1 if kind == "rpm" else prompt + output if kind == "tpm" else prompt if kind == "itpm" else output
            window._times.append(now)
            window._weights.append(weight)
            window.used += weight
            if kind == "otpm":
                entry = window._base + len(window._times) - 1
        if entry is None:
            admitted = self._admitted.get(windows)
            if admitted is None:
                admitted = self._admitted[windows] = Admission(windows)  # shared: nothing to release later
            return admitted
        return Admission(windows, output_entry=entry)

    def _refusal(
        self, now: float, windows: tuple[tuple[str, SlidingWindow], ...], prompt: int, output: int
    ) -> Admission:
        """The refusal: the limit that frees last (or one that never can), and when it does."""
        worst: tuple[float, str, int, SlidingWindow] | None = None
        never: tuple[str, int, SlidingWindow] | None = None
        for kind, window in windows:
            weight = _weight(kind, prompt, output)
            if window.used + weight <= window.limit:
                continue
            last = window.last_blocking(weight)
            wait = None if last is None else window.hint_ms(now, last) / 1000
            if wait is None:
                never = never or (kind, weight, window)
            elif worst is None or wait > worst[0]:
                worst = (wait, kind, weight, window)
        if never is not None:
            kind, weight, window = never
            return Admission(windows, kind, None, weight, window.used, window.limit)
        assert worst is not None
        wait, kind, weight, window = worst
        return Admission(windows, kind, wait, weight, window.used, window.limit)

    def _prune(self, now: float) -> None:
        """Forget the (key, model) pairs with nothing left in their windows (bounded memory under key floods)."""
        for key, windows in list(self.scopes.items()):
            for _, window in windows:
                window.expire(now)
            if not any(len(window) for _, window in windows):
                del self.scopes[key]
                self._admitted.pop(windows, None)

    def correct_output(self, admission: Admission, generation: int, tokens: int) -> None:
        """The answer ended with ``tokens`` output tokens: lower the otpm entry to that."""
        entry = admission.output_entry
        if entry is None or generation != self.generation:
            return
        for kind, window in admission.windows:
            if kind == "otpm":
                window.correct(entry, tokens)

    def enter(self, client: str) -> bool:
        """Count a request of ``client`` in flight; False (and nothing counted) when at the limit."""
        limit = self.config.max_in_flight
        count = self.in_flight.get(client, 0)
        if limit is not None and count >= limit:
            return False
        self.in_flight[client] = count + 1
        return True

    def leave(self, client: str, generation: int) -> None:
        if generation != self.generation:
            return
        count = self.in_flight.get(client, 0)
        if count <= 1:
            self.in_flight.pop(client, None)
        else:
            self.in_flight[client] = count - 1


def _weight(kind: str, prompt: int, output: int) -> int:
    if kind == "rpm":
        return 1
    if kind == "tpm":
        return prompt + output
    return prompt if kind == "itpm" else output
