"""Anthropic's model listing and token counting: ``GET /v1/models[/{id}]``, ``POST /v1/messages/count_tokens``.

``GET /v1/models`` is also OpenAI's path: the fake tells them apart by the request's headers (an
``anthropic-version`` or an ``x-api-key`` header means Anthropic), as a proxy serving both would.
The list is paginated the way the SDKs page it: ``limit`` (1–1000, default 20), ``after_id``,
``before_id``; ``first_id`` / ``last_id`` / ``has_more`` in the answer. A model is reached by its id or
by an alias, and answers with its id. A model is a ``ModelInfo`` as the anthropic SDK types it: ``id``,
``type``, ``display_name``, ``created_at``, ``lifecycle`` (``active``: the fake serves every model it
lists), ``deprecated_at`` / ``retires_at`` (null while active), ``max_input_tokens`` and ``max_tokens``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from harness.wire.neutral import RequestInvalid

__all__ = [
    "COUNT_TOKENS_PATH",
    "count_tokens_body",
    "display_name",
    "is_anthropic_request",
    "model_object",
    "models_page",
]

COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
_DATED = re.compile(r"^(.*)-(\d{4})(\d{2})(\d{2})$")
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def is_anthropic_request(headers: Mapping[str, str]) -> bool:
    """Whether a request to a path both APIs share (``/v1/models``) is meant for Anthropic."""
    return "anthropic-version" in headers or "x-api-key" in headers


def display_name(model_id: str) -> str:
    """``claude-sonnet-4-5-20250929`` → ``Claude Sonnet 4.5``; ``claude-3-5-haiku-20241022`` → ``Claude 3.5 Haiku``."""
    dated = _DATED.match(model_id)
    words = (dated.group(1) if dated else model_id).split("-")
    out: list[str] = []
    for word in words:
        if word.isdigit() and out and out[-1].replace(".", "").isdigit():
            out[-1] += f".{word}"
        else:
            out.append(word if word.isdigit() else word.capitalize())
    return " ".join(out)


def created_at(model_id: str, created: float) -> str:
    """The date in a dated id, else ``created`` (Unix seconds), as RFC 3339."""
    dated = _DATED.match(model_id)
    if dated:
        return f"{dated.group(2)}-{dated.group(3)}-{dated.group(4)}T00:00:00Z"
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_object(model_id: str, created: float, max_input_tokens: int, max_tokens: int | None) -> dict[str, Any]:
    """A ``ModelInfo`` (``max_tokens``: the model's output limit)."""
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name(model_id),
        "created_at": created_at(model_id, created),
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "max_input_tokens": max_input_tokens,
        "max_tokens": max_tokens,
    }


def models_page(
    models: Sequence[tuple[str, int, int | None]], created: float, query: Mapping[str, Sequence[str]]
) -> bytes:
    """One page of the model list (``models``: id, context window, output limit), newest first as Anthropic
    lists them; raises ``RequestInvalid`` for a bad ``limit`` or an unknown ``after_id`` / ``before_id``."""
    limits = {m[0]: m[1:] for m in models}
    ordered = sorted(limits, key=lambda i: (created_at(i, created), i), reverse=True)
    raw_limit = (query.get("limit") or ["20"])[0]
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise RequestInvalid("limit", f"Input should be an integer between 1 and 1000, got {raw_limit[:20]!r}")
    limit = int(raw_limit)
    start, end = 0, len(ordered)
    for key in ("after_id", "before_id"):
        values = query.get(key)
        if not values:
            continue
        value = values[0]
        if value not in ordered:
            raise RequestInvalid(key, f"no model with id {value[:100]!r}")
        if key == "after_id":
            start = ordered.index(value) + 1
        else:
            end = ordered.index(value)
    window = ordered[start:end]
    page = window[-limit:] if "before_id" in query and "after_id" not in query else window[:limit]
    data = [model_object(i, created, *limits[i]) for i in page]
    return _dumps(
        {
            "data": data,
            "has_more": len(page) < len(window),
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }
    ).encode()


def count_tokens_body(input_tokens: int) -> bytes:
    return f'{{"input_tokens":{input_tokens}}}'.encode()
