"""Property: an instance drawn from any schema in the supported subset validates against it (checked with
``jsonschema``), the same seed draws the same instance, and the output faults break exactly the contract."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import jsonschema
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fake_provider.instances import instance, pattern_string
from fake_provider.replies import build_reply, json_pieces
from fake_provider.textgen import Answer, TextGenerator
from harness.tokenizer import count_tokens
from harness.wire.extras import Extras, Tool
from harness.wire.neutral import RequestInvalid
from harness.wire.schemas import check_strict, check_supported

names = st.text("abcdefghij_", min_size=1, max_size=8)
numbers = st.integers(-1000, 1000)


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    def bounded(kind: str, low: int, span: int, multiple: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind, "minimum": low, "maximum": low + span}
        if multiple:
            out["multipleOf"] = multiple
        return out

    return st.one_of(
        st.just({"type": "string"}),
        st.builds(
            lambda lo, extra: {"type": "string", "minLength": lo, "maxLength": lo + extra},
            st.integers(0, 20),
            st.integers(0, 20),
        ),
        st.sampled_from(["date-time", "date", "email", "uuid", "uri", "ipv4"]).map(
            lambda f: {"type": "string", "format": f}
        ),
        st.sampled_from([r"^[A-Z]{3}-[0-9]{4}$", r"^(red|green)+$", r"^\d{2,5}[a-f]?$", r"^x\.y\\z$"]).map(
            lambda p: {"type": "string", "pattern": p}
        ),
        st.builds(bounded, st.just("integer"), numbers, st.integers(0, 100), st.sampled_from([None, 1, 3, 7])),
        st.builds(bounded, st.just("number"), numbers, st.integers(1, 100), st.sampled_from([None, 0.5, 0.25])),
        st.builds(lambda lo: {"type": "integer", "exclusiveMinimum": lo, "exclusiveMaximum": lo + 2}, numbers),
        st.just({"type": "boolean"}),
        st.just({"type": "null"}),
        st.lists(st.one_of(st.text(max_size=5), st.integers(), st.none()), min_size=1, max_size=4, unique=True).map(
            lambda e: {"enum": e}
        ),
        st.just({"const": {"fixed": [1, 2]}}),
        st.just({"type": ["string", "null"]}),
    )


schemas = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds(
            lambda props, k, strict: {
                "type": "object",
                "properties": props,
                "required": list(props)[: len(props) if strict else k],
                **({"additionalProperties": False} if strict else {}),
            },
            st.dictionaries(names, inner, max_size=4),
            st.integers(0, 4),
            st.booleans(),
        ),
        st.builds(
            lambda items, lo, extra: {"type": "array", "items": items, "minItems": lo, "maxItems": lo + extra},
            inner,
            st.integers(0, 3),
            st.integers(0, 3),
        ),
        st.lists(inner, min_size=1, max_size=3).map(lambda bs: {"anyOf": bs}),
    ),
    max_leaves=12,
)


def _satisfiable_number(schema: dict[str, Any]) -> bool:
    """Brute force: some value on a fine grid of the schema's range validates (the ranges drawn are small)."""
    low = schema.get("minimum", schema.get("exclusiveMinimum", -1000))
    high = schema.get("maximum", schema.get("exclusiveMaximum", 1000))
    step = 1 if schema["type"] == "integer" else 0.125
    return any(
        jsonschema.Draft202012Validator(schema).is_valid(low + i * step) for i in range(int((high - low) / step) + 1)
    )


@settings(max_examples=300, deadline=None)
@given(schemas, st.binary(min_size=1, max_size=16))
@example({"type": "integer", "minimum": 1, "maximum": 2, "multipleOf": 3}, b"\x00")  # the CI failure of 2026-12-07
def test_every_instance_validates_and_repeats(schema: dict[str, Any], seed: bytes) -> None:
    refused = None
    try:
        check_supported(schema)
    except RequestInvalid as exc:
        refused = exc.message
    if refused is not None:  # refused: only a schema no value satisfies (a numeric range without a multiple)
        assert "satisfies" in refused
        return
    value = instance(schema, seed)
    jsonschema.validate(value, schema)
    assert instance(schema, seed) == value


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "minimum": 1, "maximum": 2, "multipleOf": 3},
        {"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 6, "multipleOf": 3},
        {"type": "integer", "minimum": 5, "maximum": 4},
        {"type": "number", "minimum": 0.1, "maximum": 0.4, "multipleOf": 0.5},
        {"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 1},
        {"type": "integer", "minimum": 1, "maximum": 3, "multipleOf": 1.5},  # integers that are multiples of 1.5: 3k
    ],
)
def test_ranges_without_a_value_are_refused(schema: dict[str, Any]) -> None:
    satisfiable = _satisfiable_number(schema)
    if satisfiable:
        check_supported(schema)
        jsonschema.validate(instance(schema, 1), schema)
        return
    with pytest.raises(RequestInvalid, match="satisfies"):
        check_supported({"type": "object", "properties": {"n": schema}})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "minimum": 1, "maximum": 4, "multipleOf": 3},
        {"type": "integer", "minimum": 1, "maximum": 3, "multipleOf": 1.5},
        {"type": "number", "minimum": 0.1, "maximum": 0.6, "multipleOf": 0.5},
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.005},
        {"type": "integer", "maximum": -50, "multipleOf": 7},
    ],
)
def test_narrow_ranges_are_served(schema: dict[str, Any]) -> None:
    check_supported(schema)
    for seed in range(20):
        jsonschema.validate(instance(schema, seed), schema)


def test_length_and_item_bounds_the_wrong_way_round_are_refused() -> None:
    for schema in ({"type": "string", "minLength": 5, "maxLength": 2}, {"type": "array", "minItems": 3, "maxItems": 1}):
        with pytest.raises(RequestInvalid, match="is greater than"):
            check_supported(schema)


def test_refs_and_recursion_terminate() -> None:
    tree = {
        "$defs": {"node": {"type": "object", "properties": {"name": {"type": "string"}, "children": {
            "type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["name", "children"],
            "additionalProperties": False}},
        "$ref": "#/$defs/node",
    }  # fmt: skip
    for seed in range(50):
        jsonschema.validate(instance(tree, seed), tree)


@pytest.mark.parametrize("pattern", [r"^[a-z]+@[a-z]+\.com$", r"^\+?[0-9]{7,12}$", r"^(ab|cd){2}(?:-x)?$"])
def test_patterns(pattern: str) -> None:
    rng = random.Random(4)
    for _ in range(30):
        assert re.search(pattern, pattern_string(pattern, rng))


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"type": "object", "not": {}}, "'not' is not supported"),
        ({"type": "object", "allOf": [{}]}, "'allOf' is not supported"),
        ({"type": "object", "properties": {"a": {"type": "strin"}}}, "unknown type 'strin'"),
        ({"enum": []}, "enum must be a non-empty array"),
        ({"$ref": "#/$defs/missing"}, None),
    ],
)
def test_unsupported_schemas_are_refused(schema: dict[str, Any], needle: str | None) -> None:
    def check() -> None:
        check_supported(schema)
        instance(schema, 1)

    with pytest.raises(RequestInvalid) as caught:
        check()
    if needle:
        assert needle in caught.value.message


def test_strict_rules() -> None:
    ok = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}
    check_strict(ok, "x")
    with pytest.raises(RequestInvalid, match="'type: \"object\"'"):
        check_strict({"type": "array", "items": {}}, "x")
    nested = {**ok, "properties": {"a": {"type": "object", "properties": {}}}}
    with pytest.raises(RequestInvalid, match=r"context=\('properties.a'\)"):
        check_strict(nested, "x")


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200))
@example("\x85")  # whitespace only (here U+0085, found by the CI profile): no token, so no piece
def test_json_pieces_are_one_token_each_and_add_up(text: str) -> None:
    pieces = json_pieces(text)
    if count_tokens(text) == 0:  # whitespace rides with a token; a text of whitespace alone has none
        assert pieces == []
        return
    assert "".join(pieces) == text
    assert all(count_tokens(p) == 1 for p in pieces)
    assert len(pieces) == count_tokens(text)


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3}},
    "required": ["city", "days"],
    "additionalProperties": False,
}


def _reply(fault: str | None, cap: int = 500, **extras: Any) -> Any:
    gen = TextGenerator(3)
    text = gen.answer(b"d" * 16, 40, lambda u: 40)
    return build_reply("call_", Extras(**extras), b"d" * 16, text, gen, cap, False, fault)


@pytest.mark.parametrize("kind", ["schema", "tool"])
def test_output_faults_break_the_contract_and_nothing_else(kind: str) -> None:
    extras: dict[str, Any] = (
        {"output": "schema", "schema": SCHEMA} if kind == "schema" else {"tools": (Tool("f", SCHEMA),)}
    )

    def text(reply: Any) -> str:
        return str(reply.answer.text if kind == "schema" else reply.calls[0].call.arguments)

    clean = text(_reply(None, **extras))
    jsonschema.validate(json.loads(clean), SCHEMA)
    broken = text(_reply("invalid_json", **extras))
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)
    assert broken == clean[:-1]
    violated = json.loads(text(_reply("schema_violation", **extras)))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(violated, SCHEMA)


def test_max_tokens_cuts_arguments_and_bills_what_was_made() -> None:
    full = _reply(None, tools=(Tool("f", SCHEMA),))
    assert full.finish == "tool_calls"
    cut = _reply(None, cap=6, tools=(Tool("f", SCHEMA),))
    assert cut.finish == "length"
    assert cut.tokens == 6
    assert full.calls[0].call.arguments.startswith(cut.calls[0].call.arguments)


def test_reasoning_takes_its_share_first() -> None:
    reply = _reply(None, cap=300, thinking_budget=1024, show_thoughts=True)
    assert reply.thinking is not None
    assert reply.thinking.tokens == 299  # the budget's draw is capped: one token is left for the answer
    assert reply.answer.tokens == 1
    assert reply.finish == "length"
    assert reply.tokens == 300
    hidden = _reply(None, cap=5000, reasoning_effort="low")
    assert hidden.reasoning_tokens == 0  # not a reasoning model: effort spends nothing
    assert isinstance(hidden.answer, Answer)
