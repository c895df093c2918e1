"""Reading untrusted tables (TOML, JSON) into frozen config objects, with errors that name the field.

Every config object in the harness (scenario sections, provider models, faults, client settings) is
built through a :class:`Table` reader, so every bad value produces the same kind of message::

    faults[2].window.start_s: expected a number ≥ 0, got -5
    load.users: expected an integer, got "many"
    client.retry: unknown key "max_attemps" (expected one of: base_s, cap_s, max_attempts, strategy)

Example::

    t = Table(data, "provider.models[0]")
    name = t.str("name")
    window = t.int("context_window", default=128_000, min=1)
    t.done()   # rejects keys that were never read
"""

from __future__ import annotations

import builtins
import difflib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from harness.errors import ConfigError

__all__ = ["MISSING", "Table", "describe"]

_E = TypeVar("_E", bound=str)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: default meaning "this key is required"
MISSING: Any = _Missing()


def describe(value: object) -> str:
    """A short, safe rendering of a bad value for an error message."""
    text = repr(value)
    if isinstance(value, str):
        text = '"' + value.replace('"', '\\"') + '"'
    return text if len(text) <= 60 else text[:57] + "..."


class Table:
    """A read-once view of a mapping at ``path``; every accessor validates and names the field."""

    def __init__(self, data: object, path: builtins.str = "") -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path or "<root>", f"expected a table, got {describe(data)}")
        self.data: Mapping[builtins.str, Any] = data
        self.path = path
        self._read: set[builtins.str] = set()

    # -- plumbing ------------------------------------------------------------------------------
    def field(self, key: builtins.str) -> builtins.str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: builtins.str) -> builtins.bool:
        return key in self.data

    def raw(self, key: builtins.str, default: Any = MISSING) -> Any:
        self._read.add(key)
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            raise ConfigError(self.field(key), "required key is missing")
        return default

    def error(self, key: builtins.str, message: builtins.str) -> ConfigError:
        return ConfigError(self.field(key), message)

    def done(self) -> None:
        """Reject keys that no accessor read (typos, unsupported options)."""
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            key = unknown[0]
            known = sorted(self._read)
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            listing = f" (expected one of: {', '.join(known)})" if known else ""
            raise ConfigError(self.field(str(key)), f"unknown key{hint}{listing}")

    # -- scalars -------------------------------------------------------------------------------
    def str(self, key: builtins.str, default: Any = MISSING, *, nonempty: bool = True) -> Any:
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, builtins.str) or (nonempty and not value):
            raise self.error(key, f"expected a {'non-empty ' if nonempty else ''}string, got {describe(value)}")
        return value

    def bool(self, key: builtins.str, default: Any = MISSING) -> Any:
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {describe(value)}")
        return value

    def int(
        self,
        key: builtins.str,
        default: Any = MISSING,
        *,
        min: builtins.int | None = None,
        max: builtins.int | None = None,
    ) -> Any:
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer{_bounds(min, max)}, got {describe(value)}")
        _check_bounds(self, key, value, min, max, "an integer")
        return value

    def float(
        self,
        key: builtins.str,
        default: Any = MISSING,
        *,
        min: builtins.float | None = None,
        max: builtins.float | None = None,
        exclusive_min: builtins.bool = False,
    ) -> Any:
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(key, f"expected a number{_bounds(min, max, exclusive_min)}, got {describe(value)}")
        if exclusive_min and min is not None and value <= min:
            raise self.error(key, f"expected a number > {_num(min)}, got {describe(value)}")
        _check_bounds(self, key, value, min, max, "a number")
        return float(value)

    def choice(self, key: builtins.str, choices: Sequence[_E], default: Any = MISSING) -> Any:
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if value not in choices:
            raise self.error(key, f"expected one of {', '.join(map(describe, choices))}; got {describe(value)}")
        return value

    # -- containers ----------------------------------------------------------------------------
    def table(self, key: builtins.str, default: Any = MISSING) -> Any:
        """A nested :class:`Table` (``default`` is returned as is when the key is absent)."""
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        return Table(value, self.field(key))

    def tables(self, key: builtins.str, default: Any = MISSING) -> Any:
        """An array of tables, each a :class:`Table` at ``key[i]``."""
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, list):
            raise self.error(key, f"expected an array of tables, got {describe(value)}")
        return [Table(item, f"{self.field(key)}[{i}]") for i, item in enumerate(value)]

    def str_list(self, key: builtins.str, default: Any = MISSING) -> Any:
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if isinstance(value, builtins.str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, builtins.str) and v for v in value):
            raise self.error(key, f"expected a list of non-empty strings, got {describe(value)}")
        return tuple(value)

    def keys(self) -> Iterator[builtins.str]:
        return iter(self.data)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def _bounds(min: float | None, max: float | None, exclusive_min: bool = False) -> str:
    low = ">" if exclusive_min else "≥"
    if min is not None and max is not None:
        return f" in [{_num(min)}, {_num(max)}]"
    if min is not None:
        return f" {low} {_num(min)}"
    if max is not None:
        return f" ≤ {_num(max)}"
    return ""


def _check_bounds(table: Table, key: str, value: float, min: float | None, max: float | None, what: str) -> None:
    if (min is not None and value < min) or (max is not None and value > max):
        raise table.error(key, f"expected {what}{_bounds(min, max)}, got {describe(value)}")
