"""OpenAI answers, as the server writes them (the fake provider): chat completions, SSE chunks, embeddings, models.

Built from templates, byte for byte what OpenAI sends (this is the server's hot path):
:func:`chat_body`, :class:`ChatStreamEncoder` (the ``chat.completion.chunk`` events of one stream;
the stream ends with :data:`harness.wire.openai.DONE`), :func:`embeddings_body`, :func:`models_body`
and :func:`system_fingerprint`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from array import array
from collections.abc import Sequence
from typing import Any

from harness.wire.formats import json_string, json_string_bytes

__all__ = ["ChatStreamEncoder", "chat_body", "embeddings_body", "models_body", "system_fingerprint"]

_PLAIN_TEXT = re.compile(r"[ !#-\[\]-~]*").fullmatch  # printable ASCII but '"' and '\\': quoted as is

_dumps = json.JSONEncoder(separators=(",", ":")).encode  # ASCII-safe: lone surrogates cannot break it


def _usage_json(prompt: int, output: int) -> str:
    return (
        f'{{"prompt_tokens":{prompt},"completion_tokens":{output},"total_tokens":{prompt + output},'
        '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
        '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
        '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}'
    )


@functools.lru_cache(maxsize=4096)
def system_fingerprint(model: str) -> str:
    """The backend configuration id a completion reports (``fp_`` + 10 hex digits), stable per model."""
    return "fp_" + hashlib.blake2b(model.encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()


@functools.lru_cache(maxsize=4096)
def _model_fields(model: str) -> tuple[str, str]:
    """``(JSON string of model, system_fingerprint(model))``: what every answer for ``model`` repeats, looked
    up once per model (encoding the name per answer went through the JSON encoder's Python wrapper)."""
    return _dumps(model), system_fingerprint(model)


def chat_body(
    completion_id: str,
    model: str,
    created: int,
    text: str,
    finish: str,
    prompt_tokens: int,
    output_tokens: int,
    plain: bool = False,
) -> bytes:
    """A ``chat.completion`` object (built from a template: this is the server's hot path). ``plain``: the
    caller knows ``text`` is printable ASCII without '"' or '\\' (a generated answer), so it is only quoted."""
    model_json, fingerprint = _model_fields(model)
    content = '"' + text + '"' if plain else json_string(text)
    return (
        f'{{"id":"{completion_id}","object":"chat.completion","created":{created},"model":{model_json},'
        f'"choices":[{{"index":0,"message":{{"role":"assistant","content":{content},"refusal":null,'
        f'"annotations":[]}},"logprobs":null,"finish_reason":"{finish}"}}],'
        f'"usage":{_usage_json(prompt_tokens, output_tokens)},"service_tier":"default",'
        f'"system_fingerprint":"{fingerprint}"}}'
    ).encode()


class ChatStreamEncoder:
    """Builds the ``chat.completion.chunk`` events of one stream (prefixes computed once)."""

    __slots__ = ("_head", "_tail", "include_usage")

    def __init__(self, completion_id: str, model: str, created: int, include_usage: bool) -> None:
        self.include_usage = include_usage
        model_json, fingerprint = _model_fields(model)
        self._head = (
            f'data: {{"id":"{completion_id}","object":"chat.completion.chunk","created":{created},'
            f'"model":{model_json},"service_tier":"default","system_fingerprint":"{fingerprint}",'
            '"choices":['
        )
        self._tail = '],"usage":null}\n\n' if include_usage else "]}\n\n"

    def role(self) -> bytes:
        return (
            self._head + '{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
            '"logprobs":null,"finish_reason":null}' + self._tail
        ).encode()

    def text(self, text: str) -> bytes:
        return (
            f'{self._head}{{"index":0,"delta":{{"content":{json_string(text)}}},"logprobs":null,"finish_reason":null}}'
            f"{self._tail}"
        ).encode()

    def texts(self, pieces: Sequence[str]) -> list[bytes]:
        """``[text(p) for p in pieces]``, the same bytes: the stream's constant parts encoded once, each
        piece's quoted bytes taken from the cache of :func:`~harness.wire.formats.json_string_bytes`."""
        before = (self._head + '{"index":0,"delta":{"content":').encode()
        after = ('},"logprobs":null,"finish_reason":null}' + self._tail).encode()
        quote = json_string_bytes
        return [before + quote(piece) + after for piece in pieces]

    def joined_texts(self, pieces: Sequence[str], text: str | None = None, plain: bool = False) -> bytes:
        """``b"".join(self.texts(pieces))``, the same bytes, with no Python step per piece when every
        piece is plain (printable ASCII, no quote, no backslash: its JSON string is itself in quotes):
        the pieces are joined once with the bytes between two of them. Else event by event.
        ``text``: ``"".join(pieces)`` when the caller has it already (an answer keeps its text); ``plain``: the
        caller knows every piece is plain (a generated answer), so it is not checked again."""
        if not pieces:
            return b""
        if not plain and _PLAIN_TEXT("".join(pieces) if text is None else text) is None:
            return b"".join(self.texts(pieces))
        before = self._head + '{"index":0,"delta":{"content":"'
        after = '"},"logprobs":null,"finish_reason":null}' + self._tail
        return (before + (after + before).join(pieces) + after).encode()

    def finish(self, reason: str) -> bytes:
        return f'{self._head}{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"{reason}"}}{self._tail}'.encode()

    def usage(self, prompt_tokens: int, output_tokens: int) -> bytes:
        return f'{self._head}],"usage":{_usage_json(prompt_tokens, output_tokens)}}}\n\n'.encode()


def embeddings_body(model: str, vectors: Sequence[bytes], as_base64: bool, prompt_tokens: int) -> bytes:
    """``vectors`` are little-endian float32 bytes; base64 or JSON floats as the request asked."""
    data = []
    for i, raw in enumerate(vectors):
        value: Any = base64.b64encode(raw).decode() if as_base64 else array("f", raw).tolist()
        data.append({"object": "embedding", "index": i, "embedding": value})
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return _dumps({"object": "list", "data": data, "model": model, "usage": usage}).encode()


def models_body(models: Sequence[tuple[str, int, str]]) -> bytes:
    """``(id, created, owned_by)`` triples as a ``list`` object."""
    data = [{"id": m, "object": "model", "created": c, "owned_by": o} for m, c, o in models]
    return _dumps({"object": "list", "data": data}).encode()
