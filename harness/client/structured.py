"""Structured output with validate-and-re-ask: the pattern production clients put around JSON answers.

:func:`chat_structured` sends a request that asks for JSON (``ChatRequest.response_schema``, or a
forced tool call), parses the answer (the text, or the first tool call's arguments), validates it
against the schema with ``jsonschema`` and, when it fails, asks again with the error appended to the
conversation (the model's broken answer as an assistant message, then a user message naming the
problem), up to :attr:`ReaskPolicy.max_reasks` times. Every ask goes through the client's whole call
path (limiter, budget, retries, fallbacks) and is costed there; the result says how many re-asks it
took and what they cost. When it gives up it raises :class:`StructuredOutputInvalid`, which carries
the same numbers. :class:`StructuredStats` counts across calls (what the judge reports: invalid
answers, re-asks per request, the extra cost).

Example::

    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    request = ChatRequest("gpt-4o-mini", (Message("user", "Where is the Louvre? Answer in JSON."),),
                          response_schema=ResponseSchema("place", schema))
    result = await chat_structured(client, request, ReaskPolicy(max_reasks=2))
    result.value["city"], result.reasks, result.cost_usd
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from harness.client.types import ChatRequest, ChatResponse, Message
from harness.errors import ConfigError, HarnessError

__all__ = [
    "MAX_REASKS",
    "REASK_SUFFIX",
    "ReaskPolicy",
    "StructuredOutputInvalid",
    "StructuredResult",
    "StructuredStats",
    "chat_structured",
    "check_answer",
    "check_tool_calls",
    "wants_json",
]

MAX_REASKS = 10
#: a re-ask's logical id: the first ask's, then ".reask" and its number (the judge groups a chain by it)
REASK_SUFFIX = ".reask"


class _Chats(Protocol):
    async def chat(self, request: ChatRequest) -> ChatResponse: ...


@dataclass(frozen=True, slots=True)
class ReaskPolicy:
    """How often to re-ask for a valid answer (0: validate only)."""

    max_reasks: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.max_reasks, bool) or not isinstance(self.max_reasks, int):
            raise ConfigError("structured.max_reasks", f"expected a whole number, got {self.max_reasks!r}")
        if not 0 <= self.max_reasks <= MAX_REASKS:
            raise ConfigError("structured.max_reasks", f"expected 0 to {MAX_REASKS}, got {self.max_reasks}")


@dataclass(frozen=True, slots=True)
class StructuredResult:
    """A valid answer: the decoded value, the response that carried it, and what getting it took."""

    value: Any
    response: ChatResponse
    reasks: int  # asks after the first
    errors: tuple[str, ...]  # why each rejected answer was rejected, in order
    cost_usd: Decimal  # every ask, with its retries (each response's total cost)
    extra_cost_usd: Decimal  # the re-asks' share of cost_usd


class StructuredOutputInvalid(HarnessError):
    """Every answer failed validation; ``errors`` says why each did, ``cost_usd`` what they cost."""

    def __init__(self, errors: tuple[str, ...], cost_usd: Decimal, extra_cost_usd: Decimal) -> None:
        self.errors = errors
        self.reasks = len(errors) - 1
        self.cost_usd = cost_usd
        self.extra_cost_usd = extra_cost_usd
        super().__init__(f"no valid structured answer after {len(errors)} asks; last problem: {errors[-1]}")


@dataclass(slots=True)
class StructuredStats:
    """Counts across calls of :func:`chat_structured` (pass one in to collect them)."""

    requests: int = 0
    valid: int = 0
    given_up: int = 0
    invalid_answers: int = 0  # answers that failed validation (each caused a re-ask or the give-up)
    reasks: int = 0
    cost_usd: Decimal = Decimal(0)
    extra_cost_usd: Decimal = Decimal(0)
    by_problem: dict[str, int] = field(default_factory=dict)  # "invalid_json" / "schema_violation" → count

    @property
    def success_rate(self) -> float:
        return self.valid / self.requests if self.requests else 1.0

    @property
    def reasks_per_request(self) -> float:
        return self.reasks / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "valid": self.valid, "given_up": self.given_up,
            "invalid_answers": self.invalid_answers, "reasks": self.reasks,
            "success_rate": round(self.success_rate, 6), "reasks_per_request": round(self.reasks_per_request, 6),
            "cost_usd": f"{self.cost_usd:f}", "extra_cost_usd": f"{self.extra_cost_usd:f}",
            "by_problem": dict(sorted(self.by_problem.items())),
        }  # fmt: skip


def check_answer(text: str, schema: dict[str, Any] | None) -> tuple[Any, str | None, str | None]:
    """``(value, problem kind, message)``: kind ``None`` when ``text`` is JSON that fits ``schema``."""
    import jsonschema  # here: importing the client should not cost jsonschema's import

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, "invalid_json", f"the answer is not valid JSON ({exc.msg} at position {exc.pos})"
    if schema is None:
        return value, None, None
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if error is None:
        return value, None, None
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    return value, "schema_violation", f"at {where}: {error.message[:300]}"


def check_tool_calls(request: ChatRequest, response: ChatResponse) -> tuple[str, ...]:
    """The verdict on each tool call of ``response`` ("valid", "invalid_json", "schema_violation"; a call
    to a tool the request did not offer is a "schema_violation")."""
    tools = {t.name: t.parameters for t in request.tools}
    verdicts = []
    for call in response.tool_calls:
        schema = tools.get(call.name)
        kind = "schema_violation" if schema is None else check_answer(call.arguments, schema)[1]
        verdicts.append(kind or "valid")
    return tuple(verdicts)


def wants_json(request: ChatRequest) -> bool:
    """Whether the answer to ``request`` must be JSON: a response schema, JSON mode, or a forced tool."""
    return (
        request.response_schema is not None
        or request.json_mode
        or any(t.name == request.tool_choice for t in request.tools)
    )


def _answer(response: ChatResponse, uses_tool: bool) -> str:
    if uses_tool:
        return response.tool_calls[0].arguments if response.tool_calls else ""
    return response.text


def _cost(response: ChatResponse) -> Decimal:
    return response.total_cost_usd if response.total_cost_usd is not None else response.cost_usd


async def chat_structured(
    client: _Chats,
    request: ChatRequest,
    policy: ReaskPolicy | None = None,
    *,
    schema: dict[str, Any] | None = None,
    stats: StructuredStats | None = None,
    verdicts: Callable[[str, tuple[str, ...]], None] | None = None,
) -> StructuredResult:
    """A valid JSON answer to ``request``, re-asking on an invalid one (see the module docstring).

    The schema is ``schema`` if given, else the request's ``response_schema``, else the forced tool's
    parameters (``tool_choice`` naming one of ``tools``); with none, any JSON is valid. A re-ask's
    logical id is the request's followed by ``.reask1``, ``.reask2`` … (when the request has an id).
    ``verdicts``, when given, is told at the end, with the request's id, the verdict on each ask in
    order: "valid", "invalid_json", "schema_violation", or "error" for an ask that failed (its error
    is then raised).
    """
    policy = policy or ReaskPolicy()
    tool = next((t for t in request.tools if t.name == request.tool_choice), None)
    if schema is None:
        schema = request.response_schema.schema if request.response_schema is not None else None
        if schema is None and tool is not None:
            schema = tool.parameters
    if schema is not None:
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ConfigError("response_schema", f"not a valid JSON schema: {exc.message[:200]}") from None
    messages = list(request.messages)
    errors: list[str] = []
    total = extra = Decimal(0)
    if stats is not None:
        stats.requests += 1
    seen: list[str] = []

    def tell(last: str) -> None:
        if verdicts is not None:
            verdicts(request.request_id or "", (*seen, last))

    for ask in range(policy.max_reasks + 1):
        reask_id = f"{request.request_id}{REASK_SUFFIX}{ask}" if request.request_id else None
        asked = request if ask == 0 else replace(request, messages=tuple(messages), request_id=reask_id)
        try:
            response = await client.chat(asked)
        except BaseException:
            tell("error")
            raise
        cost = _cost(response)
        total += cost
        if ask:
            extra += cost
        text = _answer(response, tool is not None)
        value, kind, problem = check_answer(text, schema)
        if kind is None:
            tell("valid")
            if stats is not None:
                stats.valid += 1
                stats.reasks += ask
                stats.cost_usd += total
                stats.extra_cost_usd += extra
            return StructuredResult(value, response, ask, tuple(errors), total, extra)
        assert problem is not None
        seen.append(kind)
        errors.append(f"{kind}: {problem}")
        if stats is not None:
            stats.invalid_answers += 1
            stats.by_problem[kind] = stats.by_problem.get(kind, 0) + 1
        messages += [
            Message("assistant", text),
            Message("user", f"That answer was rejected: {problem}. Answer again with JSON only, matching the "
                    "required schema."),
        ]  # fmt: skip
    if verdicts is not None:
        verdicts(request.request_id or "", tuple(seen))
    if stats is not None:
        stats.given_up += 1
        stats.reasks += policy.max_reasks
        stats.cost_usd += total
        stats.extra_cost_usd += extra
    raise StructuredOutputInvalid(tuple(errors), total, extra)
