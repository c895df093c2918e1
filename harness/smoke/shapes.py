"""Shapes, never content: what a provider's answers look like, without their text, ids or keys.

A *shape* keeps what a client depends on and nothing a person wrote or a provider generated:

* a JSON body as its structure and types — ``{"type": "object", "fields": {"usage": {"type":
  "object", "fields": {"prompt_tokens": {"type": "integer"}}}}}`` — with the values of a few
  discriminator keys (``object``, ``type``, ``role``, ``status``, ``code`` and the finish reasons),
  which are vocabulary rather than content;
* headers as their names and value *formats* (``integer``, ``duration``, ``rfc3339``, ``http-date``,
  ``media-type:application/json`` …), never their values;
* a stream as its sequence of event labels (the ``event:`` name, else the data's ``type`` or
  ``object``; repeats collapse to ``label+``) and the merged shape of each kind of event.

Several answers of one kind (the plain answers of a smoke run, say) merge into one shape: types
unite (``["null", "object"]``), fields unite, discriminator values unite. :mod:`harness.smoke.compare`
lists the differences between two shape sets.

Example::

    json_shape({"id": "chatcmpl-1", "usage": {"total_tokens": 9}, "object": "chat.completion"})
    # {"type": "object", "fields": {"id": {"type": "string"}, "object": {"type": "string",
    #   "values": ["chat.completion"]}, "usage": {"type": "object", "fields": {"total_tokens": {"type": "integer"}}}}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.wire.sse import SSEParser

__all__ = [
    "DISCRIMINATORS",
    "body_shape",
    "event_label",
    "exchange_shape",
    "header_format",
    "json_shape",
    "merge_exchange",
    "merge_shapes",
    "stream_shape",
]

Shape = dict[str, Any]

#: keys whose string values are vocabulary (recorded), not content
DISCRIMINATORS = frozenset(
    {"object", "type", "role", "status", "code", "finish_reason", "stop_reason", "finishReason", "modality"}
)
_VOCABULARY = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")  # what a discriminator value looks like

_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("integer", re.compile(r"-?\d+")),
    ("decimal", re.compile(r"-?\d+\.\d+")),
    ("duration", re.compile(r"(?=\d)(\d+h)?(\d+m(?!s))?(\d+(\.\d+)?(ms|s))?")),  # Go durations: 20ms, 6m0s, 1.5s
    ("rfc3339", re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")),
    ("http-date", re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")),
    ("boolean", re.compile(r"(?i)true|false")),
)
_MEDIA_TYPE = re.compile(r"([a-z]+/[a-z0-9.+\-]+)\s*(;.*)?", re.IGNORECASE)


def header_format(name: str, value: str) -> str:
    """The format of a header value, never the value: ``integer``, ``duration``, ``media-type:text/event-stream``…"""
    value = value.strip()
    if name.lower() == "content-type":
        m = _MEDIA_TYPE.fullmatch(value)
        if m is not None:
            return f"media-type:{m.group(1).lower()}"
    for fmt, pattern in _FORMATS:
        if pattern.fullmatch(value):
            return fmt
    return "empty" if not value else "string"


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_shape(value: Any, key: str | None = None) -> Shape:
    """The shape of a parsed JSON value (``key``: the name it sits under, for discriminator values)."""
    kind = _type_of(value)
    shape: Shape = {"type": kind}
    if kind == "object":
        shape["fields"] = {k: json_shape(v, k) for k, v in sorted(value.items())}
    elif kind == "array":
        items: Shape | None = None
        for item in value:
            items = json_shape(item, key) if items is None else merge_shapes(items, json_shape(item, key))
        if items is not None:
            shape["items"] = items
    elif kind == "string" and key in DISCRIMINATORS and _VOCABULARY.fullmatch(value):
        shape["values"] = [value]
    return shape


def _types(shape: Shape) -> list[str]:
    kind = shape.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def merge_shapes(a: Shape, b: Shape) -> Shape:
    """One shape that covers both: types, fields, array items and discriminator values unite."""
    types = sorted(set(_types(a)) | set(_types(b)))
    merged: Shape = {"type": types[0] if len(types) == 1 else types}
    if "fields" in a or "fields" in b:
        fa, fb = a.get("fields", {}), b.get("fields", {})
        merged["fields"] = {
            k: merge_shapes(fa[k], fb[k]) if k in fa and k in fb else (fa.get(k) or fb[k]) for k in sorted({*fa, *fb})
        }
    if "items" in a or "items" in b:
        if "items" in a and "items" in b:
            merged["items"] = merge_shapes(a["items"], b["items"])
        else:
            merged["items"] = a.get("items") or b["items"]
    if "values" in a or "values" in b:
        merged["values"] = sorted({*a.get("values", ()), *b.get("values", ())})
    if a.get("optional") or b.get("optional"):
        merged["optional"] = True
    return merged


def body_shape(body: bytes) -> Shape:
    """The shape of a JSON body; a body that is not JSON is ``{"type": "non-json"}`` (its bytes never kept)."""
    try:
        return json_shape(json.loads(body))
    except (ValueError, UnicodeDecodeError):
        return {"type": "non-json" if body else "empty"}


def event_label(event: str | None, data: Any) -> str:
    """A stream event's label: its ``event:`` name, else its data's ``type`` or ``object``, else ``data``.

    A top-level array that is empty is part of the label (``chat.completion.chunk(choices=[])``): that is
    how OpenAI marks its usage chunk.
    """
    if event:
        label = event
    elif isinstance(data, dict) and isinstance(data.get("type"), str) and _VOCABULARY.fullmatch(data["type"]):
        label = data["type"]
    elif isinstance(data, dict) and isinstance(data.get("object"), str) and _VOCABULARY.fullmatch(data["object"]):
        label = data["object"]
    elif isinstance(data, dict) and "error" in data:
        label = "error"
    else:
        label = "data"
    if isinstance(data, dict):
        empty = sorted(k for k, v in data.items() if isinstance(v, list) and not v)
        if empty:
            label += "(" + ",".join(f"{k}=[]" for k in empty) + ")"
    return label


def _collapse(labels: Iterable[str]) -> list[str]:
    """``a b b b c`` → ``a b+ c``: how many text chunks came is content, not shape."""
    out: list[str] = []
    for label in labels:
        if out and out[-1] in (label, label + "+"):
            out[-1] = label + "+"
        else:
            out.append(label)
    return out


def stream_shape(chunks: Sequence[bytes]) -> tuple[list[str], dict[str, Shape]]:
    """The event sequence of an SSE body and the merged shape of each kind of event."""
    parser = SSEParser()
    messages = []
    for chunk in chunks:
        messages += parser.feed(chunk)
    labels: list[str] = []
    shapes: dict[str, Shape] = {}
    for message in messages:
        text = message.data.strip()
        try:
            data = json.loads(text)
        except ValueError:
            # a literal sentinel ([DONE]) is vocabulary; anything else is content and kept as a type only
            label = text if re.fullmatch(r"\[[A-Z_]{1,16}\]", text) else (message.event or "non-json")
            labels.append(label)
            continue
        label = event_label(message.event, data)
        labels.append(label)
        key = label.split("(", 1)[0]
        shape = json_shape(data)
        shapes[key] = merge_shapes(shapes[key], shape) if key in shapes else shape
    return _collapse(labels), dict(sorted(shapes.items()))


def exchange_shape(
    status: int, headers: Iterable[tuple[str, str]], body: bytes, chunks: Sequence[bytes] | None
) -> Shape:
    """The shape of one response: status, header formats, and the body's or the stream's shape."""
    formats: dict[str, list[str]] = {}
    for name, value in headers:
        lname = name.lower()
        fmt = header_format(lname, value)
        if fmt not in formats.setdefault(lname, []):
            formats[lname].append(fmt)
    shape: Shape = {"status": [status], "headers": {k: sorted(v) for k, v in sorted(formats.items())}}
    if chunks is None:
        shape["body"] = body_shape(body)
    else:
        sequence, events = stream_shape(chunks)
        shape["events"] = sequence
        shape["event_shapes"] = events
    return shape


def merge_exchange(a: Mapping[str, Any], b: Mapping[str, Any]) -> Shape:
    """Two responses of the same kind as one shape (a stream's sequence: the first one seen)."""
    headers: dict[str, list[str]] = {}
    for source in (a.get("headers", {}), b.get("headers", {})):
        for name, fmts in source.items():
            headers[name] = sorted({*headers.get(name, []), *fmts})
    merged: Shape = {
        "status": sorted({*a.get("status", []), *b.get("status", [])}),
        "headers": dict(sorted(headers.items())),
    }
    if "body" in a or "body" in b:
        if "body" in a and "body" in b:
            merged["body"] = merge_shapes(a["body"], b["body"])
        else:
            merged["body"] = a.get("body") or b["body"]
    if "events" in a or "events" in b:
        merged["events"] = list(a.get("events") or b.get("events") or [])
        ea, eb = a.get("event_shapes", {}), b.get("event_shapes", {})
        merged["event_shapes"] = {
            k: merge_shapes(ea[k], eb[k]) if k in ea and k in eb else (ea.get(k) or eb[k]) for k in sorted({*ea, *eb})
        }
    return merged
