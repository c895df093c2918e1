"""The JSON-schema subset the fake provider answers, and each API's own rules about schemas.

Structured output and tool arguments are generated from a schema (:mod:`fake_provider.instances`);
a schema using a keyword outside :data:`SUPPORTED` is refused with a 400 naming the keyword, in the
provider's own error shape, instead of being silently ignored (an answer that ignores ``not`` or
``allOf`` would not conform, and a test relying on it would learn nothing). OpenAI's strict mode adds
its own rules (:func:`check_strict`): the root is an object, every object sets
``additionalProperties: false`` and lists every property in ``required``. Gemini's ``responseSchema``
is the OpenAPI subset (upper-case type names, ``nullable``, ``propertyOrdering``);
:func:`check_openapi` refuses fields outside it the way Gemini does ("Unknown name …").
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from harness.wire.checks import VALUE_CODE
from harness.wire.neutral import RequestInvalid

__all__ = [
    "OPENAPI_FIELDS",
    "SUPPORTED",
    "NumericGrid",
    "check_openapi",
    "check_strict",
    "check_supported",
    "resolve",
]

#: keywords the instance generator honours (annotations are accepted and ignored)
SUPPORTED = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems",
        "uniqueItems", "enum", "const", "anyOf", "oneOf", "$ref", "$defs", "definitions", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format",
        "nullable", "propertyOrdering",
        # annotations
        "title", "description", "default", "examples", "example", "$schema", "$id", "$comment", "deprecated",
        "readOnly", "writeOnly",
    }
)  # fmt: skip
#: fields of Gemini's OpenAPI ``Schema`` object (responseSchema, function parameters)
OPENAPI_FIELDS = frozenset(
    {
        "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
        "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
        "propertyOrdering", "default", "items", "minimum", "maximum",
    }
)  # fmt: skip
_MAX_DEPTH = 64  # nesting levels a schema may have (deeper ones are refused, not recursed into)
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/X``, ``#/definitions/X``, ``#``); other schemas as they are."""
    seen = 0
    while "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise RequestInvalid(None, f"only local $ref are supported, got {str(ref)[:80]!r}")
        target: Any = root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise RequestInvalid(None, f"$ref {ref[:80]!r} does not resolve")
            target = target[part]
        if not isinstance(target, dict):
            raise RequestInvalid(None, f"$ref {ref[:80]!r} does not name a schema")
        schema = target
        seen += 1
        if seen > 32:
            raise RequestInvalid(None, f"$ref {ref[:80]!r} refers to itself")
    return schema


def _children(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    props = schema.get("properties")
    if isinstance(props, dict):
        out += [(f"properties.{k}", v) for k, v in props.items()]
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out.append((key, schema[key]))
    for key in ("prefixItems", "anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            out += [(f"{key}[{i}]", v) for i, v in enumerate(schema[key])]
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            out += [(f"{key}.{k}", v) for k, v in schema[key].items()]
    return out


def check_supported(schema: object, where: str = "schema", depth: int = 0) -> None:
    """Refuse a schema the generator cannot honour; raises :class:`RequestInvalid` naming the place."""
    if depth > _MAX_DEPTH:
        raise RequestInvalid(None, f"{where}: the schema nests more than {_MAX_DEPTH} levels")
    if isinstance(schema, bool):
        return  # true / false schemas (additionalProperties: false)
    if not isinstance(schema, dict):
        raise RequestInvalid(None, f"{where}: a schema must be an object, got {type(schema).__name__}")
    for key in schema:
        if key not in SUPPORTED:
            raise RequestInvalid(None, f"{where}: the keyword {key!r} is not supported")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for k in kinds:
        if not isinstance(k, str) or k.lower() not in _TYPES:
            raise RequestInvalid(None, f"{where}: unknown type {k!r}")
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        raise RequestInvalid(None, f"{where}: enum must be a non-empty array")
    if "required" in schema and not (
        isinstance(schema["required"], list) and all(isinstance(r, str) for r in schema["required"])
    ):
        raise RequestInvalid(None, f"{where}: required must be an array of strings")
    for key in ("anyOf", "oneOf", "prefixItems"):
        if key in schema and (not isinstance(schema[key], list) or not schema[key]):
            raise RequestInvalid(None, f"{where}: {key} must be a non-empty array")
    if "properties" in schema and not isinstance(schema["properties"], dict):
        raise RequestInvalid(None, f"{where}: properties must be an object")
    _check_ranges(schema, where, kinds)
    for name, child in _children(schema):
        check_supported(child, f"{where}.{name}", depth + 1)


def _number(schema: dict[str, Any], key: str, where: str) -> Fraction | None:
    value = schema.get(key)
    if value is None or isinstance(value, bool):  # a draft-4 boolean exclusiveMinimum is not a bound
        return None
    if not isinstance(value, int | float) or value != value or value in (float("inf"), float("-inf")):
        raise RequestInvalid(None, f"{where}: {key} must be a finite number, got {str(value)[:40]}")
    return Fraction(value)


class NumericGrid:
    """The numbers a numeric schema allows: ``k · step`` for ``low ≤ k ≤ high`` (None: unbounded that side),
    or, for a ``number`` without ``multipleOf`` (``step`` None), the interval between the bounds."""

    __slots__ = ("high", "high_open", "low", "low_open", "step")

    def __init__(self, schema: dict[str, Any], integer: bool, where: str = "schema") -> None:
        low, high = _number(schema, "minimum", where), _number(schema, "maximum", where)
        ex_low, ex_high = _number(schema, "exclusiveMinimum", where), _number(schema, "exclusiveMaximum", where)
        self.low_open = self.high_open = False
        if ex_low is not None and (low is None or ex_low >= low):
            low, self.low_open = ex_low, True
        if ex_high is not None and (high is None or ex_high <= high):
            high, self.high_open = ex_high, True
        multiple = _number(schema, "multipleOf", where)
        if multiple is not None and multiple <= 0:
            raise RequestInvalid(None, f"{where}: multipleOf must be greater than 0, got {schema['multipleOf']}")
        self.step: Fraction | None
        if integer:  # an integer multiple of p/q (in lowest terms) is a multiple of p
            self.step = Fraction(multiple.numerator) if multiple is not None else Fraction(1)
        else:
            self.step = multiple
        self.low: Fraction | int | None = low
        self.high: Fraction | int | None = high
        if self.step is not None:  # bounds as multiples of the step
            self.low = None if low is None else _ceil(low / self.step, self.low_open)
            self.high = None if high is None else _floor(high / self.step, self.high_open)

    @property
    def empty(self) -> bool:
        if self.low is None or self.high is None:
            return False
        if self.step is not None:
            return self.low > self.high
        return self.low > self.high or (self.low == self.high and (self.low_open or self.high_open))


def _ceil(x: Fraction, open_: bool) -> int:
    k = -(-x.numerator // x.denominator)
    return k + 1 if open_ and k == x else k


def _floor(x: Fraction, open_: bool) -> int:
    k = x.numerator // x.denominator
    return k - 1 if open_ and k == x else k


def _check_ranges(schema: dict[str, Any], where: str, kinds: list[Any]) -> None:
    """Refuse a range no value can satisfy: an empty numeric range, or one that holds no multiple of
    ``multipleOf``; a minimum length or item count above the maximum."""
    names = {str(k).lower() for k in kinds}
    numeric = [k for k in ("integer", "number") if k in names]
    if not kinds and any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        numeric = ["number"]
    for kind in numeric:
        if NumericGrid(schema, kind == "integer", where).empty:
            bounds = ", ".join(
                f"{k} {schema[k]}"
                for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf")
                if k in schema
            )
            what = f"no {'integer' if kind == 'integer' else 'number'}"
            if "multipleOf" in schema:
                what += f" that is a multiple of {schema['multipleOf']}"
            raise RequestInvalid(None, f"{where}: {what} satisfies {bounds}")
    for low_key, high_key in (("minLength", "maxLength"), ("minItems", "maxItems")):
        low, high = schema.get(low_key), schema.get(high_key)
        if isinstance(low, int) and isinstance(high, int) and low > high:
            raise RequestInvalid(None, f"{where}: {low_key} {low} is greater than {high_key} {high}")


def check_strict(schema: dict[str, Any], name: str) -> None:
    """OpenAI's strict-mode rules, phrased as OpenAI phrases them ("Invalid schema for response_format …")."""
    head = f"Invalid schema for response_format '{name}'"
    root = resolve(schema, schema)
    if root.get("type") != "object" or "anyOf" in root:
        kind = root.get("type")
        raise RequestInvalid(
            "response_format",
            f"{head}: schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{kind}\"'",
            "invalid_value",
        )
    _strict_walk(schema, schema, head, "()", 0)


def _strict_walk(schema: object, root: dict[str, Any], head: str, context: str, depth: int) -> None:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return
    kind = schema.get("type")
    is_object = kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in schema
    if is_object:
        if schema.get("additionalProperties") is not False:
            raise RequestInvalid(
                "response_format",
                f"{head}: In context={context}, 'additionalProperties' is required to be supplied and to be false.",
                "invalid_value",
            )
        props = schema.get("properties") or {}
        missing = [k for k in props if k not in (schema.get("required") or [])]
        if missing:
            raise RequestInvalid(
                "response_format",
                f"{head}: In context={context}, 'required' is required to be supplied and to be an array including "
                f"every key in properties. Missing '{missing[0]}'.",
                "invalid_value",
            )
    for name, child in _children(schema):
        _strict_walk(child, root, head, f"{context[:-1]}'{name}')" if context != "()" else f"('{name}')", depth + 1)


def check_openapi(schema: object, where: str, depth: int = 0) -> None:
    """Gemini's ``Schema`` object: unknown fields refused as Gemini refuses them (its 400 names the field)."""
    if depth > _MAX_DEPTH:
        raise RequestInvalid(where, "the schema nests too deeply")
    if not isinstance(schema, dict):
        raise RequestInvalid(where, f"Invalid value (a schema must be an object, got {type(schema).__name__})")
    for key in schema:
        if key not in OPENAPI_FIELDS:
            raise RequestInvalid(where, f'Unknown name "{key}": Cannot find field.', "unknown_name")
    kind = schema.get("type")
    if kind is not None and (not isinstance(kind, str) or kind.lower() not in _TYPES - {"null"}):
        raise RequestInvalid(f"{where}.type", f"Invalid value ({kind!r}): expected one of STRING, NUMBER, INTEGER, "
                             "BOOLEAN, ARRAY, OBJECT")  # fmt: skip
    try:
        _check_ranges(schema, where, [] if kind is None else [kind])
    except RequestInvalid as exc:
        raise RequestInvalid(where, exc.message, VALUE_CODE) from None
    for name, child in _children(schema):
        check_openapi(child, f"{where}.{name}", depth + 1)
