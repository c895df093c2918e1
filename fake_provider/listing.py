"""The routes that describe models instead of calling them: each provider's model list and model lookup.

Never faulted, never limited, never billed (they are logged, and carry the rate-limit headers of the
key's tier). OpenAI lists every id it serves (dated snapshots included); Anthropic lists its model
ids, newest first, and resolves an alias to the model it reaches; Gemini lists ``models/{id}`` with
token limits and supported methods. A bad paging parameter raises
:class:`~harness.wire.neutral.RequestInvalid` (the provider's 400).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fake_provider import rejections
from fake_provider.config import ModelConfig
from harness.wire import anthropic_models, gemini_models, openai_answers

__all__ = ["MODELS_CREATED", "model_route"]

MODELS_CREATED = 1_700_000_000  # the "created" of models whose id carries no date
_OWNER = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _gemini_object(model: ModelConfig, name: str) -> dict[str, Any]:
    embedding = model.kind == "embedding"
    return gemini_models.model_object(name, model.context_window, model.max_output_tokens, embedding)


def model_route(
    api: str,
    models: Sequence[ModelConfig],
    index: Mapping[str, ModelConfig],
    name: str | None,
    query: Mapping[str, Sequence[str]],
) -> bytes | rejections.Refusal:
    """The body of a models route (``name`` None: the list), or the refusal ``(status, message, code)``."""
    provider = api.split(".")[0]
    if name is not None:
        model = index.get(name)
        if model is None or model.api != provider:
            return rejections.unknown_model(provider, api, name, False)
        if provider == "openai":
            return _dumps({"id": name, "object": "model", "created": MODELS_CREATED, "owned_by": "openai"}).encode()
        if provider == "anthropic":
            return _dumps(
                anthropic_models.model_object(model.name, MODELS_CREATED, model.context_window, model.max_output_tokens)
            ).encode()
        return _dumps(_gemini_object(model, name)).encode()
    own = [m for m in models if m.api == provider]
    if provider == "openai":
        return openai_answers.models_body([(n, MODELS_CREATED, _OWNER[provider]) for m in own for n in m.names])
    if provider == "anthropic":
        listed = [(m.name, m.context_window, m.max_output_tokens) for m in own if m.kind == "chat"]
        return anthropic_models.models_page(listed, MODELS_CREATED, query)
    return gemini_models.models_page([_gemini_object(m, n) for m in own for n in m.names], query)
