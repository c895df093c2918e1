"""Typed reads of an untrusted, JSON-decoded request body; every failure names the field.

The provider modules build their request validation from these, then format the resulting
:class:`~harness.wire.neutral.RequestInvalid` in their own error shape (OpenAI's "Invalid type for
'max_tokens' …", Anthropic's "max_tokens: …", Gemini's "Invalid value at 'generation_config' …").
Only what a JSON decoder can produce is expected: dict, list, str, int, float, bool, None.
"""

from __future__ import annotations

import math
from typing import Any

from harness.wire.neutral import RequestInvalid

__all__ = [
    "MISSING_CODE",
    "TYPE_CODE",
    "VALUE_CODE",
    "get_bool",
    "get_int",
    "get_list",
    "get_number",
    "get_object",
    "get_str",
    "get_str_or_list",
    "kind_of",
    "require_object",
]

MISSING_CODE = "missing_required_parameter"
TYPE_CODE = "invalid_type"
VALUE_CODE = "invalid_value"

_ABSENT: Any = object()


def kind_of(value: object) -> str:
    """JSON kind of a decoded value, with its article: ``"a string"``, ``"an integer"`` …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def require_object(value: object, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestInvalid(param or None, f"expected an object, but got {kind_of(value)} instead", TYPE_CODE)
    return value


def _get(obj: dict[str, Any], key: str, parent: str, required: bool) -> Any:
    value = obj.get(key, _ABSENT)
    if value is _ABSENT:
        if required:
            raise RequestInvalid(_join(parent, key), "required field is missing", MISSING_CODE)
        return _ABSENT
    return value


def get_str(obj: dict[str, Any], key: str, parent: str = "", *, required: bool = False, nonempty: bool = False) -> Any:
    """A string field (``None`` when absent or null and not required)."""
    value = _get(obj, key, parent, required)
    if value is _ABSENT or (value is None and not required):
        return None
    if not isinstance(value, str):
        raise RequestInvalid(_join(parent, key), f"expected a string, but got {kind_of(value)} instead", TYPE_CODE)
    if nonempty and not value:
        raise RequestInvalid(_join(parent, key), "expected a non-empty string, but got an empty string", VALUE_CODE)
    return value


def get_int(
    obj: dict[str, Any],
    key: str,
    parent: str = "",
    *,
    required: bool = False,
    min: int | None = None,
    max: int | None = None,
) -> Any:
    value = _get(obj, key, parent, required)
    if value is _ABSENT or (value is None and not required):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestInvalid(_join(parent, key), f"expected an integer, but got {kind_of(value)} instead", TYPE_CODE)
    if (min is not None and value < min) or (max is not None and value > max):
        bounds = f"≥ {min}" if max is None else f"in [{min}, {max}]"
        shown = value if -(10**12) < value < 10**12 else ("a huge number" if value > 0 else "a huge negative number")
        raise RequestInvalid(_join(parent, key), f"expected an integer {bounds}, but got {shown}", VALUE_CODE)
    return value


def get_number(
    obj: dict[str, Any],
    key: str,
    parent: str = "",
    *,
    min: float | None = None,
    max: float | None = None,
) -> Any:
    value = _get(obj, key, parent, False)
    if value is _ABSENT or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestInvalid(_join(parent, key), f"expected a number, but got {kind_of(value)} instead", TYPE_CODE)
    number = float(value) if isinstance(value, float) or -(2**53) < value < 2**53 else math.inf
    if not math.isfinite(number) or (min is not None and number < min) or (max is not None and number > max):
        low = "" if min is None else f" ≥ {min:g}"
        high = "" if max is None else f" ≤ {max:g}"
        raise RequestInvalid(_join(parent, key), f"expected a finite number{low}{high}", VALUE_CODE)
    return number


def get_bool(obj: dict[str, Any], key: str, parent: str = "") -> Any:
    value = _get(obj, key, parent, False)
    if value is _ABSENT or value is None:
        return None
    if not isinstance(value, bool):
        raise RequestInvalid(_join(parent, key), f"expected a boolean, but got {kind_of(value)} instead", TYPE_CODE)
    return value


def get_list(obj: dict[str, Any], key: str, parent: str = "", *, required: bool = False, nonempty: bool = False) -> Any:
    value = _get(obj, key, parent, required)
    if value is _ABSENT or (value is None and not required):
        return None
    if not isinstance(value, list):
        raise RequestInvalid(_join(parent, key), f"expected an array, but got {kind_of(value)} instead", TYPE_CODE)
    if nonempty and not value:
        raise RequestInvalid(_join(parent, key), "expected a non-empty array, but got an empty array", "empty_array")
    return value


def get_object(obj: dict[str, Any], key: str, parent: str = "", *, required: bool = False) -> Any:
    value = _get(obj, key, parent, required)
    if value is _ABSENT or (value is None and not required):
        return None
    return require_object(value, _join(parent, key))


def get_str_or_list(obj: dict[str, Any], key: str, parent: str = "", *, max_items: int = 4) -> tuple[str, ...]:
    """A string or an array of strings (``stop``, ``stop_sequences``), as a tuple."""
    value = _get(obj, key, parent, False)
    if value is _ABSENT or value is None:
        return ()
    param = _join(parent, key)
    if isinstance(value, str):
        return (value,) if value else ()
    if not isinstance(value, list):
        raise RequestInvalid(param, f"expected a string or an array of strings, but got {kind_of(value)}", TYPE_CODE)
    if len(value) > max_items:
        raise RequestInvalid(param, f"expected at most {max_items} items, but got {len(value)}", VALUE_CODE)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise RequestInvalid(f"{param}[{i}]", f"expected a string, but got {kind_of(item)} instead", TYPE_CODE)
    return tuple(v for v in value if v)
