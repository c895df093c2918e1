"""Gemini's other model routes: ``models.list``, ``models.get``, ``:countTokens``, ``:embedContent`` and
``:batchEmbedContents`` (what google-genai's ``embed_content`` calls on the Gemini API).

Paths, under ``/v1`` or ``/v1beta``: ``GET models`` (``pageSize`` ≤ 1000, default 50, and
``pageToken``), ``GET models/{model}``, ``POST models/{model}:countTokens`` (a ``contents`` array, or
a whole ``generateContentRequest``), ``POST models/{model}:embedContent`` (one ``content``) and
``:batchEmbedContents`` (``requests``, each with its ``model`` and ``content``).
"""

from __future__ import annotations

import base64
import json
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.wire import checks
from harness.wire.neutral import RequestInvalid

__all__ = [
    "EmbedCall",
    "count_tokens_body",
    "embed_body",
    "model_object",
    "models_page",
    "parse_embed",
    "parse_models_path",
    "token_count_request",
]

_GENERATE_METHODS = ["generateContent", "streamGenerateContent", "countTokens", "createCachedContent"]
_EMBED_METHODS = ["embedContent", "batchEmbedContents", "countTokens"]
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def parse_models_path(path: str) -> tuple[str, str | None] | None:
    """``/v1beta/models`` → ``("v1beta", None)``; ``/v1/models/gemini-2.5-flash`` → ``("v1", "gemini-2.5-flash")``;
    None for any other path (a ``:method`` path is a model method, not a model)."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "" or parts[1] not in ("v1", "v1beta") or parts[2] != "models":
        return None
    if len(parts) == 3 or (len(parts) == 4 and parts[3] == ""):
        return parts[1], None
    if len(parts) == 4 and parts[3] and ":" not in parts[3]:
        return parts[1], parts[3]
    return None


def _display_name(model_id: str) -> str:
    words = model_id.split("-")
    return " ".join(w if any(c.isdigit() for c in w) else w.capitalize() for w in words)


def model_object(model_id: str, input_limit: int, output_limit: int | None, embedding: bool) -> dict[str, Any]:
    """A ``Model`` as the Gemini API describes one."""
    version = next((w for w in model_id.split("-")[1:] if w[:1].isdigit()), "001")
    out: dict[str, Any] = {
        "name": f"models/{model_id}",
        "version": version,
        "displayName": _display_name(model_id),
        "description": f"{_display_name(model_id)}, served by the llm-harness fake provider",
        "inputTokenLimit": input_limit,
        "outputTokenLimit": output_limit or 1,
        "supportedGenerationMethods": _EMBED_METHODS if embedding else _GENERATE_METHODS,
    }
    if not embedding:
        out |= {"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2, "thinking": False}
    return out


def models_page(models: Sequence[dict[str, Any]], query: Mapping[str, Sequence[str]]) -> bytes:
    """One page of ``models.list``; ``nextPageToken`` (an opaque offset) when more remain."""
    raw_size = (query.get("pageSize") or ["50"])[0]
    if not raw_size.isdigit() or int(raw_size) < 1:
        raise RequestInvalid("pageSize", f"expected a positive integer, got {raw_size[:20]!r}")
    size = min(int(raw_size), 1000)
    token = (query.get("pageToken") or [""])[0]
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode() + b"==").decode())
        except (ValueError, UnicodeDecodeError):
            raise RequestInvalid("pageToken", "the page token is not one this server issued") from None
    page = list(models[start : start + size])
    out: dict[str, Any] = {"models": page}
    if start + size < len(models):
        out["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode().rstrip("=")
    return _dumps(out).encode()


def token_count_request(body: object) -> dict[str, Any]:
    """The generateContent-shaped body a countTokens request counts: its ``generateContentRequest``, or itself
    (``contents``, and ``systemInstruction`` when given)."""
    obj = checks.require_object(body, "")
    inner = obj.get("generateContentRequest", obj.get("generate_content_request"))
    if inner is not None:
        return checks.require_object(inner, "generateContentRequest")
    if "contents" not in obj:
        raise RequestInvalid("contents", "required field is missing", checks.MISSING_CODE)
    return obj


def count_tokens_body(total: int) -> bytes:
    return _dumps({"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]}).encode()


@dataclass(frozen=True, slots=True)
class EmbedCall:
    """An embedContent (one text) or batchEmbedContents (several) request."""

    texts: tuple[str, ...]  # the text of each content (its parts joined by "\n")
    dimensions: int | None  # outputDimensionality, when every request gives the same
    batch: bool


def _content_text(obj: dict[str, Any], where: str) -> str:
    content = checks.get_object(obj, "content", where, required=True)
    prefix = f"{where}.content" if where else "content"
    parts = checks.get_list(content, "parts", prefix, required=True, nonempty=True)
    texts = []
    for i, item in enumerate(parts):
        part = checks.require_object(item, f"{prefix}.parts[{i}]")
        texts.append(checks.get_str(part, "text", f"{prefix}.parts[{i}]", required=True))
    return "\n".join(texts)


def _dimensions(obj: dict[str, Any], where: str) -> int | None:
    key = "output_dimensionality" if "output_dimensionality" in obj else "outputDimensionality"
    return checks.get_int(obj, key, where, min=1, max=8192)  # type: ignore[no-any-return]


def parse_embed(body: object, model: str, batch: bool) -> EmbedCall:
    """Validate an embedContent / batchEmbedContents body for the model of the URL."""
    obj = checks.require_object(body, "")
    if not batch:
        return EmbedCall((_content_text(obj, ""),), _dimensions(obj, ""), False)
    requests = checks.get_list(obj, "requests", required=True, nonempty=True)
    texts, dims = [], set()
    for i, item in enumerate(requests):
        where = f"requests[{i}]"
        request = checks.require_object(item, where)
        named = checks.get_str(request, "model", where)
        if named is not None and named.removeprefix("models/") != model:
            raise RequestInvalid(f"{where}.model", f"expected models/{model}, the model of the URL, got {named!r}")
        texts.append(_content_text(request, where))
        dims.add(_dimensions(request, where))
    if len(dims) > 1:
        raise RequestInvalid("requests", "every request must ask for the same outputDimensionality")
    return EmbedCall(tuple(texts), dims.pop(), True)


def embed_body(vectors: Sequence[bytes], batch: bool) -> bytes:
    """``vectors`` are little-endian float32 bytes: ``{"embedding": …}`` or ``{"embeddings": […]}``."""
    values = [{"values": array("f", raw).tolist()} for raw in vectors]
    return _dumps({"embeddings": values} if batch else {"embedding": values[0]}).encode()
