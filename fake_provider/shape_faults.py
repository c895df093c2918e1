"""The ``drop`` fault: an answer with named headers or JSON fields left out.

A real API's answers change shape now and then (a header renamed, a usage field added or removed);
this fault makes the fake provider's answers differ from its usual shape on purpose, so a test can
check that whatever compares shapes (``harness smoke --compare-fake``) or parses them notices::

    [[faults]]
    kind = "drop"
    always = true
    headers = ["x-ratelimit-remaining-tokens"]
    fields = ["usage.total_tokens", "choices.message.refusal"]

``fields`` are dotted paths into the JSON of a plain body and of every stream event's ``data:``;
arrays are walked through (``choices.message.refusal`` reaches each choice's message). A path that
does not exist in an answer changes nothing. The status, timing and billing of the answer stay as
they were: only the shape changes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from fake_provider.plan import Plan

__all__ = ["drop_fields", "drop_from_plan"]


def drop_fields(value: Any, paths: Sequence[tuple[str, ...]]) -> bool:
    """Remove every path from ``value`` in place; True if anything was removed."""
    removed = False
    for path in paths:
        removed = _drop(value, path) or removed
    return removed


def _drop(value: Any, path: tuple[str, ...]) -> bool:
    if isinstance(value, list):
        hits = [_drop(item, path) for item in value]
        return any(hits)
    if not isinstance(value, dict) or not path:
        return False
    head, rest = path[0], path[1:]
    if head not in value:
        return False
    if not rest:
        del value[head]
        return True
    return _drop(value[head], rest)


def _split(paths: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(p.split(".")) for p in paths]


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _drop_in_body(body: bytes, paths: list[tuple[str, ...]]) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body  # not JSON (a malformed-body fault got there first): nothing to drop from
    return _json_bytes(data) if drop_fields(data, paths) else body


def _drop_in_events(chunk: bytes, paths: list[tuple[str, ...]]) -> bytes:
    """Each ``data:`` line of an SSE chunk, less the paths (other lines and framing unchanged)."""
    lines = chunk.split(b"\n")
    changed = False
    for i, line in enumerate(lines):
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].lstrip(b" ")
        try:
            data = json.loads(payload)
        except ValueError:
            continue  # [DONE], or a malformed chunk
        if drop_fields(data, paths):
            lines[i] = b"data: " + _json_bytes(data)
            changed = True
    return b"\n".join(lines) if changed else chunk


def drop_from_plan(plan: Plan, headers: Sequence[str], fields: Sequence[str]) -> Plan:
    """``plan`` with the named headers (case-insensitive) and JSON fields left out."""
    if plan.transport is not None:
        return plan
    changes: dict[str, Any] = {}
    if headers:
        gone = {h.lower() for h in headers}
        changes["headers"] = tuple((k, v) for k, v in plan.headers if k.lower() not in gone)
    if fields:
        paths = _split(fields)
        if plan.chunks is not None:
            changes["chunks"] = tuple(
                c._replace(data=_drop_in_events(c.data, paths)) if c.data else c for c in plan.chunks
            )
        elif plan.body:
            changes["body"] = _drop_in_body(plan.body, paths)
    return replace(plan, **changes) if changes else plan
