"""API keys: where they come from, which one is in use, and rotation when one fails.

A :class:`KeyRing` holds the keys of one provider (literal keys from the config, or keys read from
environment variables at start). It hands out the current key; when the provider refuses a key
(401/403) or reports it out of quota (429 ``insufficient_quota``), :meth:`KeyRing.fail` benches that key
(for the rest of the run, or ``quota_cooldown_s``) and moves to the next usable one, so the same request
can be sent again at once with another key. When every key is benched the ring is exhausted and the
client falls over to the next model of the chain.

Keys never leave this module except inside request headers: :class:`ApiKey` prints as its label
(``key:`` and a short SHA-256, the same label the cost tracker attributes spend to), and
:class:`RedactedHeaders` (the headers of every request the client builds) masks credential values in
its ``repr``. :meth:`KeyRing.scrub` removes any key a provider echoed back in an error message.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from harness.client.config import DEFAULT_KEY_ENV, KeyRotation, ModelSpec
from harness.client.cost import key_label
from harness.clock import Clock
from harness.errors import ConfigError

__all__ = ["SENSITIVE_HEADERS", "ApiKey", "KeyRing", "RedactedHeaders"]

#: header names whose values are credentials
SENSITIVE_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key", "proxy-authorization"})


class RedactedHeaders(dict[str, str]):
    """A plain dict of request headers whose ``repr`` masks credential values."""

    __slots__ = ()

    def __repr__(self) -> str:
        shown = {k: ("<redacted>" if k.lower() in SENSITIVE_HEADERS else v) for k, v in self.items()}
        return f"RedactedHeaders({shown!r})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key and its non-secret label; prints as the label only."""

    secret: str
    label: str

    @classmethod
    def of(cls, secret: str) -> ApiKey:
        return cls(secret, key_label(secret))

    def __repr__(self) -> str:
        return f"ApiKey({self.label})"

    __str__ = __repr__


class KeyRing:
    """The keys of one provider, with the one in use and the ones resting after a failure."""

    def __init__(
        self, keys: list[ApiKey], *, clock: Clock, rotation: KeyRotation | None = None, name: str = ""
    ) -> None:
        if not keys:
            raise ConfigError("keys", f"no API key for {name or 'this provider'}")
        self.keys = keys  # in rotation order
        self.name = name  # for events: the provider or model
        self.rotation = rotation or KeyRotation()  # how long failed keys rest
        self._clock = clock
        self._index = 0  # the key in use
        self._resting: dict[int, float] = {}  # key index -> clock time it may be used again
        self.rotations = 0  # times the ring moved to another key

    @classmethod
    def from_specs(
        cls,
        specs: list[ModelSpec],
        *,
        clock: Clock,
        rotation: KeyRotation | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "",
        field: str = "client.models",
    ) -> KeyRing:
        """The keys named by ``specs`` (literal, then environment), each once, in order."""
        environ = os.environ if env is None else env
        secrets: list[str] = []
        for spec in specs:
            secrets.extend(spec.api_keys)
            names = spec.api_key_env or (() if spec.api_keys else (DEFAULT_KEY_ENV[spec.provider],))
            for var in names:
                value = environ.get(var)
                if not value:
                    where = f"{field}.{spec.name}.api_key_env"
                    raise ConfigError(where, f"environment variable {var} is not set (model {spec.name!r})")
                secrets.append(value)
        unique = list(dict.fromkeys(s for s in secrets if s))
        return cls([ApiKey.of(s) for s in unique], clock=clock, rotation=rotation, name=name)

    @property
    def current(self) -> ApiKey:
        return self.keys[self._index]

    def usable(self) -> bool:
        """Is any key usable now (the current one, or one whose rest is over)?"""
        now = self._clock()
        return any(self._resting.get(i, -math.inf) <= now for i in range(len(self.keys)))

    def fail(self, key: ApiKey, reason: str) -> ApiKey | None:
        """``key`` failed for ``reason`` ("auth" or "quota"): bench it, return the next usable key (None: none).

        A failure reported for a key that is no longer current (a concurrent request already rotated)
        benches it all the same and returns the current key.
        """
        now = self._clock()
        rest = self.rotation.auth_cooldown_s if reason == "auth" else self.rotation.quota_cooldown_s
        try:
            index = self.keys.index(key)
        except ValueError:
            return None
        self._resting[index] = now + rest
        for step in range(len(self.keys)):
            candidate = (self._index + step) % len(self.keys)
            if self._resting.get(candidate, -math.inf) <= now:
                if candidate != self._index:
                    self._index = candidate
                    self.rotations += 1
                return self.keys[candidate]
        return None

    def scrub(self, text: str) -> str:
        """``text`` with every key of the ring replaced by its label."""
        for key in self.keys:
            if key.secret in text:
                text = text.replace(key.secret, key.label)
        return text

    def __repr__(self) -> str:
        labels = ", ".join(k.label for k in self.keys)
        return f"KeyRing({self.name!r}, keys=[{labels}], current={self.current.label}, resting={len(self._resting)})"
