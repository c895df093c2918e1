"""Writing scenario documents back as TOML (the subset scenarios use), exactly: ``tomllib`` reads back the same.

A counterexample is an ordinary scenario file, so the world it came from must survive the trip to text
bit for bit: floats are written with ``repr`` (the shortest text that reads back as the same float),
strings as TOML basic strings. :func:`dumps` checks the round trip itself and raises if it ever fails.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and every control character (DEL included) escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _table(lines: list[str], path: str, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        if not isinstance(value, Mapping) and not _is_table_array(value):
            lines.append(f"{_key(str(key))} = {_value(value)}")
    for key, value in data.items():
        sub = f"{path}.{_key(str(key))}" if path else _key(str(key))
        if isinstance(value, Mapping):
            lines.append("")
            lines.append(f"[{sub}]")
            _table(lines, sub, value)
        elif _is_table_array(value):
            for item in value:
                lines.append("")
                lines.append(f"[[{sub}]]")
                # inside an array of tables, nested tables are written inline: simple and unambiguous
                for k, v in item.items():
                    lines.append(f"{_key(str(k))} = {_value(v)}")


def dumps(document: Mapping[str, Any], header: str = "") -> str:
    """The document as TOML text (``header``: comment lines put first); raises if it would not read back equal."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _table(lines, "", document)
    text = "\n".join(lines).strip("\n") + "\n"
    if tomllib.loads(text) != _plain(document):
        raise ValueError("the document does not survive the trip to TOML text")  # pragma: no cover - a bug here
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
