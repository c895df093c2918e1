"""Validate a wire JSON against an SDK's pydantic type in strict mode, and refuse fields the type does not know.

The SDKs' types accept unknown fields silently (``extra="allow"``); a misspelt field would pass a plain
``model_validate``. :func:`assert_strict` validates with ``strict=True`` (no coercion: a string where a
number belongs fails) and then walks the result: any model holding extra fields fails the test.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel


def _extras(value: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(value, BaseModel):
        extra = value.model_extra or {}
        found += [f"{path}.{k}" for k in extra]
        for name in type(value).model_fields:
            found += _extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found += _extras(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, item in value.items():
            found += _extras(item, f"{path}.{k}")
    return found


def assert_strict(model: type[BaseModel], data: dict[str, Any], allow: tuple[str, ...] = ()) -> BaseModel:
    """``data`` validates as ``model`` in strict mode and holds no field the type lacks (except ``allow``)."""
    parsed = model.model_validate_json(json.dumps(data), strict=True)  # JSON mode: enums may be their strings
    unknown = [p for p in _extras(parsed, "$") if not any(p.endswith(a) for a in allow)]
    assert not unknown, f"fields {model.__name__} does not know: {unknown}"
    return parsed
