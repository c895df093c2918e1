"""JSON instances generated from a JSON schema, deterministically from a seed.

Structured output (``response_format`` json_schema, Gemini ``responseSchema``) and tool-call
arguments are instances of the caller's schema. ``instance(schema, digest)`` draws one with a
``random.Random`` seeded from the request's digest, so the same request and seed give the same JSON.
It honours the keywords in :data:`harness.wire.schemas.SUPPORTED` (types, properties, required,
items / prefixItems, min/max items, enum, const, anyOf / oneOf, local ``$ref``, numeric bounds and
``multipleOf``, string lengths, ``pattern`` and the common ``format`` values); the parsers refuse
anything else before generation, so what comes out always validates against the schema.

Why not a library: the well-kept schema-to-instance generators we looked at are
``hypothesis-jsonschema`` (draws through Hypothesis, whose choices are not a stable function of a
seed across versions and cost milliseconds per draw) and Faker-based ones (unpinned randomness,
heavy imports). The fake provider needs a pure function of (schema, seed) that is cheap on the
request path, so this module is ours; the tests check every instance with ``jsonschema``.

>>> instance({"type": "object", "properties": {"n": {"type": "integer", "minimum": 3, "maximum": 3}},
...           "required": ["n"]}, b"seed")
{'n': 3}
"""

from __future__ import annotations

import random
import re
from fractions import Fraction
from typing import Any

from fake_provider.textgen import WORDS
from harness.wire.schemas import NumericGrid, resolve

__all__ = ["instance", "pattern_string"]

_MAX_DEPTH = 12  # beyond this, optional properties are left out and arrays take their minimum length
_FORMATS = {
    "date-time": lambda r: (
        f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:"
        f"{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z"
    ),
    "date": lambda r: f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z",
    "email": lambda r: f"{r.choice(WORDS).lower()}{r.randint(1, 99)}@example.com",
    "uuid": lambda r: (
        f"{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-4{r.getrandbits(12):03x}-"
        f"a{r.getrandbits(12):03x}-{r.getrandbits(48):012x}"
    ),
    "uri": lambda r: f"https://example.com/{r.choice(WORDS).lower()}",
    "hostname": lambda r: f"{r.choice(WORDS).lower()}.example.com",
    "ipv4": lambda r: f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
    "ipv6": lambda r: f"fd00::{r.getrandbits(16):x}",
    "duration": lambda r: f"PT{r.randint(1, 59)}M",
}


def instance(schema: dict[str, Any], seed: bytes | int | str) -> Any:
    """An instance of ``schema`` drawn deterministically from ``seed``."""
    return _Draw(schema, random.Random(seed)).value(schema, 0)


class _Draw:
    __slots__ = ("rng", "root")

    def __init__(self, root: dict[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def value(self, schema: Any, depth: int) -> Any:
        if schema is True or schema is None:
            return self.words(1, 3)
        if depth > 4 * _MAX_DEPTH:
            raise ValueError("the schema requires values nested deeper than the generator goes")
        schema = resolve(schema, self.root)
        rng = self.rng
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return rng.choice(schema["enum"])
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            # the first branch when deep (a recursive schema's base case is usually listed first)
            return self.value(branches[0] if depth >= _MAX_DEPTH else rng.choice(branches), depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if str(k).lower() != "null"] or ["null"]
            kind = kinds[0] if depth >= _MAX_DEPTH else rng.choice(kinds)
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        kind = str(kind).lower()
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, depth)
        if kind == "string":
            return self.string(schema)
        if kind == "integer":
            return self.integer(schema)
        if kind == "number":
            return self.number(schema)
        if kind == "boolean":
            return rng.random() < 0.5
        return None

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        order = [k for k in schema.get("propertyOrdering") or () if k in props]
        order += [k for k in props if k not in order]
        out: dict[str, Any] = {}
        for key in order:
            if key in required or (depth < _MAX_DEPTH and self.rng.random() < 0.5):
                out[key] = self.value(props[key], depth + 1)
        for key in sorted(required - set(props)):  # required without a schema: any value
            out[key] = self.words(1, 2)
        return out

    def array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        low = max(int(schema.get("minItems", 0)), len(prefix) if schema.get("items") is not False else 0)
        high = schema.get("maxItems")
        high = low + 3 if high is None else int(high)
        n = low if depth >= _MAX_DEPTH else self.rng.randint(low, max(low, min(high, max(low, 1) + 2)))
        items = schema.get("items", True)
        out: list[Any] = []
        unique = bool(schema.get("uniqueItems"))
        tries = 0
        while len(out) < n and tries < 20 * (n + 1):
            tries += 1
            sub = prefix[len(out)] if len(out) < len(prefix) else items
            item = self.value(sub, depth + 1)
            if unique and item in out:
                continue
            out.append(item)
        return out

    def string(self, schema: dict[str, Any]) -> str:
        rng = self.rng
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            return pattern_string(pattern, rng)
        fmt = schema.get("format")
        text = _FORMATS[fmt](rng) if fmt in _FORMATS else self.words(1, 4)
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        while len(text) < low:
            text += " " + rng.choice(WORDS)
        if high is not None and len(text) > int(high):
            text = text[: int(high)].rstrip() or text[: int(high)]
        if len(text) < low:  # rstrip above may have cut below the minimum
            text = text.ljust(low, "x")
        return text

    def words(self, low: int, high: int) -> str:
        rng = self.rng
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))

    def integer(self, schema: dict[str, Any]) -> int:
        grid = NumericGrid(schema, True)
        assert grid.step is not None
        return int(self._multiple(grid, grid.step))

    def number(self, schema: dict[str, Any]) -> float | int:
        grid = NumericGrid(schema, False)
        if grid.step is not None:
            value = self._multiple(grid, grid.step)
            return int(value) if value.denominator == 1 else float(value)
        # a continuous range: a value with two decimals inside it, or its middle when it is narrower
        low, high = _span(grid.low, grid.high, 100)
        first = -(-low * 100 // 1) + (1 if grid.low_open and low * 100 % 1 == 0 else 0)
        last = high * 100 // 1 - (1 if grid.high_open and high * 100 % 1 == 0 else 0)
        if first <= last:
            return float(Fraction(self.rng.randint(int(first), int(last)), 100))
        if grid.empty:
            raise ValueError("the schema's numeric range is empty")
        return float((low + high) / 2)

    def _multiple(self, grid: NumericGrid, step: Fraction) -> Fraction:
        """A multiple of ``step`` in the grid (a span of about 100 when a side is unbounded)."""
        span = max(1, int(100 / step))
        first, last = _span(grid.low, grid.high, span)
        if first > last:
            raise ValueError("the schema's numeric range holds no multiple of its multipleOf")
        return self.rng.randint(int(first), int(last)) * step


def _span(low: Fraction | int | None, high: Fraction | int | None, width: int) -> tuple[Fraction, Fraction]:
    """The bounds, with an unbounded side ``width`` away from the other (from 0 when both are open)."""
    if low is None:
        low = Fraction(0) if high is None else high - width
    if high is None:
        high = low + width
    return Fraction(low), Fraction(high)


# ------------------------------------------------------------------------------------------- patterns
def pattern_string(pattern: str, rng: random.Random) -> str:
    """A string matching the regular expression ``pattern`` (searched, as JSON schema does)."""
    from re import _parser  # type: ignore[attr-defined]  # the stdlib's regex parser (sre_parse)

    try:
        tree = _parser.parse(pattern)
    except re.error as exc:
        raise ValueError(f"invalid pattern {pattern[:80]!r}: {exc}") from None
    out: list[str] = []
    _emit(tree, rng, out, {})
    return "".join(out)


_CATEGORIES = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_WORD": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": "abcxyz",
    "CATEGORY_NOT_WORD": "-.!",
    "CATEGORY_NOT_SPACE": "abc123",
}


def _emit(tree: Any, rng: random.Random, out: list[str], groups: dict[int, str]) -> None:
    for op, arg in tree:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyz"))
        elif name == "IN":
            out.append(_class_char(arg, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            high = low + 3 if high > low + 3 else high  # MAXREPEAT and large bounds: a few more than the minimum
            for _ in range(rng.randint(low, high)):
                _emit(sub, rng, out, groups)
        elif name == "SUBPATTERN":
            group, _add, _del, sub = arg
            start = len(out)
            _emit(sub, rng, out, groups)
            if group is not None:
                groups[group] = "".join(out[start:])
        elif name == "BRANCH":
            _emit(rng.choice(arg[1]), rng, out, groups)
        elif name == "GROUPREF":
            out.append(groups.get(arg, ""))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # anchors and look-arounds: the generated text is built to match without them
        else:
            raise ValueError(f"pattern feature {name} is not supported")


def _class_char(items: Any, rng: random.Random) -> str:
    negate = False
    choices: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            choices.append(chr(arg))
        elif name == "RANGE":
            low, high = arg
            choices += [chr(c) for c in range(low, min(high, low + 64) + 1)]
        elif name == "CATEGORY":
            choices += list(_CATEGORIES.get(str(arg), "a"))
    if negate:
        pool = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789" if c not in choices]
        return rng.choice(pool or ["~"])
    return rng.choice(choices or ["a"])
