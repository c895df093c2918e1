"""What a chat request asks for beyond text, in one neutral shape: tools, structured output, reasoning,
log probabilities and prompt-cache breakpoints.

The three wire modules parse their own spelling of these (OpenAI ``tools`` / ``response_format`` /
``reasoning_effort`` / ``logprobs``, Anthropic ``tools`` / ``thinking`` / ``cache_control``, Gemini
``tools`` / ``responseSchema`` / ``thinkingConfig``) into one :class:`Extras`, kept on
:attr:`~harness.wire.neutral.ChatCall.extras`; a plain text request has none (``None``), so the hot
path never builds one. The fake provider decides its answer from it (:mod:`fake_provider.replies`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from harness.wire.invalid import RequestInvalid

__all__ = [
    "TOOL_NAME",
    "CacheMark",
    "Extras",
    "Tool",
    "canonical",
    "prefix_hasher",
]

#: the function-name rule all three APIs share (letters, digits, underscores, dashes; 1–64 characters)
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
#: Gemini also allows dots and colons in a function name
GEMINI_TOOL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}")


@dataclass(frozen=True, slots=True)
class Tool:
    """One function the model may call: its name and the JSON schema of its arguments."""

    name: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CacheMark:
    """A prompt-cache breakpoint: the prompt's first ``tokens`` tokens, identified by ``digest``."""

    tokens: int
    digest: bytes
    ttl_s: float  # 300 (Anthropic's default "5m") or 3600 ("1h")


@dataclass(slots=True)
class Extras:
    """The non-text asks of one chat request (server side; treat as read-only)."""

    tools: tuple[Tool, ...] = ()
    #: "auto" | "required" | "none" | "named" (``tool_name`` says which)
    tool_choice: str = "auto"
    tool_name: str | None = None
    parallel_tools: bool = True
    #: a tool result comes after the last plain user message (the ``auto`` rule answers then)
    after_tool_result: bool = False
    #: structured output: "text" (none), "json" (any JSON object), "schema" (``schema`` below)
    output: str = "text"
    schema: dict[str, Any] | None = None
    schema_name: str | None = None
    #: reasoning: the budget in tokens (Anthropic ``budget_tokens``, Gemini ``thinkingBudget``), or an
    #: OpenAI effort ("minimal", "low", "medium", "high"); ``show_thoughts``: thinking text is returned
    thinking_budget: int | None = None
    reasoning_effort: str | None = None
    show_thoughts: bool = False
    #: OpenAI log probabilities: per output token, with ``top_logprobs`` alternatives (0–20)
    logprobs: bool = False
    top_logprobs: int = 0
    #: explicit cache breakpoints (Anthropic ``cache_control``), in prompt order
    cache_marks: tuple[CacheMark, ...] = ()
    #: prompt tokens the tool definitions and the output schema add to the messages' own
    prompt_tokens: int = 0
    #: the tool definitions and schema as text (what automatic prompt caching hashes before the messages)
    tools_text: str = ""

    @property
    def calls_tools(self) -> bool:
        """Whether the answer is a tool call, by the documented rule (docs/fake-provider.md):
        ``required`` and a named tool always call; ``auto`` calls unless a tool result follows the
        last user message (the model then answers from it); ``none`` never calls."""
        if not self.tools or self.tool_choice == "none":
            return False
        if self.tool_choice in ("required", "named"):
            return True
        return not self.after_tool_result

    def tool(self, name: str) -> Tool:
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(name)


def canonical(value: object) -> str:
    """A canonical JSON text of a decoded value (sorted keys, no spaces): what prompt digests hash."""
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def prefix_hasher() -> Any:
    """The running hash that cache-breakpoint digests are copies of."""
    return hashlib.blake2b(digest_size=16)


def check_tool_names(tools: tuple[Tool, ...], param: str) -> None:
    """Tool names are unique (all three APIs refuse duplicates)."""
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if tool.name in seen:
            raise RequestInvalid(f"{param}[{i}]", f"tool names must be unique; {tool.name!r} appears twice")
        seen.add(tool.name)
