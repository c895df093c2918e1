"""Every difference of shape between a reference (the real provider) and the fake provider.

Both sides are shape sets as :mod:`harness.smoke.shapes` builds them (``shapes.json``): per kind of
exchange (``chat``, ``chat_stream``, ``error_unknown_model``), the status, header formats, the body's
shape or the stream's event sequence and event shapes. A difference names where it is and what each
side has::

    chat_stream: header x-ratelimit-remaining-tokens: in the reference (integer), missing in the fake
    chat: body usage.total_tokens: in the reference (integer), missing in the fake
    chat: body choices[].finish_reason: reference string, fake null

What is compared:

* headers: only those a client reads (:data:`COMPARED_HEADERS`, per provider): content type, request
  id, rate-limit families, retry hints. A real API sends many more (``cf-ray``, ``server``,
  ``set-cookie`` …) that no client depends on; they are recorded but never counted as differences;
* body and event fields: every field, both ways, with types; discriminator values (``object``,
  ``type``, ``role``, ``status``, ``code``) when the reference has them — not finish reasons, which
  depend on the answer's length;
* a field marked ``"optional": true`` in the reference may be missing from the fake, and a header
  listed in an exchange's ``optional_headers`` (a name, or a prefix ending in ``-``) may be missing
  from either side;
* types: the fake may send fewer types than the reference allows (``string`` where the reference
  has ``null|string``), never another one;
* the stream's event sequence, as labels with repeats collapsed.

A reference may list ``accepted`` differences (``{"where": …, "why": …}``): known, explained gaps
of the fake provider; they are reported as accepted, not as failures (and an accepted difference
that no longer occurs is reported too, so the list does not outlive its reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["COMPARED_HEADERS", "COMPARED_VALUES", "Difference", "compare_shapes", "header_compared"]

#: header names (exact, or a prefix ending in "-") whose presence and format clients depend on
COMPARED_HEADERS: Mapping[str, tuple[str, ...]] = {
    "openai": (
        "content-type",
        "x-request-id",
        "x-ratelimit-",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
        "openai-processing-ms",
        "openai-version",
    ),
    "anthropic": ("content-type", "request-id", "anthropic-ratelimit-", "retry-after", "x-should-retry"),
    "gemini": ("content-type", "retry-after"),
}
#: discriminator keys whose values are compared (the others are recorded only)
COMPARED_VALUES = frozenset({"object", "type", "role", "status", "code"})


def header_compared(provider: str, name: str) -> bool:
    for known in COMPARED_HEADERS.get(provider, ()):
        if name == known or (known.endswith("-") and name.startswith(known)):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference of shape; ``where`` is stable (``chat: body usage.total_tokens``) for acceptance lists."""

    where: str
    reference: str  # what the reference has ("integer", "missing" …)
    fake: str  # what the fake provider has
    accepted: str | None = None  # the reason, when the reference accepts this difference

    def __str__(self) -> str:
        note = f" (accepted: {self.accepted})" if self.accepted else ""
        return f"{self.where}: reference {self.reference}, fake {self.fake}{note}"

    def to_dict(self) -> dict[str, Any]:
        out = {"where": self.where, "reference": self.reference, "fake": self.fake}
        if self.accepted:
            out["accepted"] = self.accepted
        return out


def _types(shape: Mapping[str, Any]) -> str:
    kind = shape.get("type", "?")
    return kind if isinstance(kind, str) else "|".join(kind)


def _type_set(shape: Mapping[str, Any]) -> set[str]:
    kind = shape.get("type", "?")
    return {kind} if isinstance(kind, str) else set(kind)


def _fields(
    where: str, path: str, ref: Mapping[str, Any], fake: Mapping[str, Any], fake_optional: bool = False
) -> Iterator[Difference]:
    label = path or "(top level)"
    if not _type_set(fake) <= _type_set(ref):  # the fake sends a type the reference never did
        yield Difference(f"{where} {label}", f"type {_types(ref)}", f"type {_types(fake)}")
    key = path.rsplit(".", 1)[-1].removesuffix("[]")
    if key in COMPARED_VALUES and "values" in ref:
        extra = sorted(set(fake.get("values", ())) - set(ref["values"]))
        if extra:
            yield Difference(f"{where} {label} values", "/".join(ref["values"]), "/".join(extra))
    rf, ff = ref.get("fields", {}), fake.get("fields", {})
    for name in sorted({*rf, *ff}):
        sub = f"{path}.{name}" if path else name
        if name not in ff:
            if not rf[name].get("optional"):
                yield Difference(f"{where} {sub}", _types(rf[name]), "missing")
        elif name not in rf:
            yield Difference(f"{where} {sub}", "missing", _types(ff[name]))
        else:
            yield from _fields(where, sub, rf[name], ff[name])
    if "items" in ref and "items" in fake:
        yield from _fields(where, f"{path}[]", ref["items"], fake["items"])


def _exchange(provider: str, kind: str, ref: Mapping[str, Any], fake: Mapping[str, Any]) -> Iterator[Difference]:
    if set(ref.get("status", [])) != set(fake.get("status", [])):
        yield Difference(f"{kind}: status", _list(ref.get("status")), _list(fake.get("status")))
    rh, fh = ref.get("headers", {}), fake.get("headers", {})
    optional = tuple(ref.get("optional_headers", ()))
    for name in sorted({*rh, *fh}):
        if not header_compared(provider, name):
            continue
        either = any(name == o or (o.endswith("-") and name.startswith(o)) for o in optional)
        if either and (name not in fh or name not in rh):
            continue
        if name not in fh:
            yield Difference(f"{kind}: header {name}", _list(rh[name]), "missing")
        elif name not in rh:
            yield Difference(f"{kind}: header {name}", "missing", _list(fh[name]))
        elif not set(fh[name]) <= set(rh[name]):
            yield Difference(f"{kind}: header {name} format", _list(rh[name]), _list(fh[name]))
    if "body" in ref or "body" in fake:
        if "body" not in fake or "body" not in ref:
            yield Difference(
                f"{kind}: body", "present" if "body" in ref else "missing", "present" if "body" in fake else "missing"
            )
        else:
            yield from _fields(f"{kind}: body", "", ref["body"], fake["body"])
    if "events" in ref or "events" in fake:
        rs, fs = list(ref.get("events", [])), list(fake.get("events", []))
        if rs != fs:
            yield Difference(f"{kind}: event sequence", " ".join(rs) or "none", " ".join(fs) or "none")
        re_, fe = ref.get("event_shapes", {}), fake.get("event_shapes", {})
        for label in sorted({*re_, *fe}):
            if label not in fe:
                yield Difference(f"{kind}: event {label}", "present", "missing")
            elif label not in re_:
                yield Difference(f"{kind}: event {label}", "missing", "present")
            else:
                yield from _fields(f"{kind}: event {label}", "", re_[label], fe[label])


def _list(values: Any) -> str:
    if not values:
        return "none"
    return "/".join(str(v) for v in values)


def _accepted(reference: Mapping[str, Any]) -> list[tuple[re.Pattern[str], str, str]]:
    out = []
    for item in reference.get("accepted", []):
        where, why = str(item.get("where", "")), str(item.get("why", ""))
        # "*" matches within one segment of a path; everything else is literal
        pattern = re.compile("^" + ".*?".join(re.escape(part) for part in where.split("*")) + "$")
        out.append((pattern, where, why))
    return out


def compare_shapes(reference: Mapping[str, Any], fake: Mapping[str, Any]) -> tuple[list[Difference], list[str]]:
    """The differences (accepted ones carry their reason) and the accepted entries that matched nothing."""
    provider = str(reference.get("provider") or fake.get("provider") or "")
    rx, fx = reference.get("exchanges", {}), fake.get("exchanges", {})
    found: list[Difference] = []
    for kind in sorted({*rx, *fx}):
        if kind not in fx:
            found.append(Difference(f"{kind}", "recorded", "not recorded"))
            continue
        if kind not in rx:
            continue  # the reference did not record this kind of exchange: nothing to hold the fake to
        found += _exchange(provider, kind, rx[kind], fx[kind])
    accepted = _accepted(reference)
    used: set[str] = set()
    out: list[Difference] = []
    for diff in found:
        reason = None
        for pattern, where, why in accepted:
            if pattern.match(diff.where):
                reason = why or "accepted"
                used.add(where)
                break
        out.append(Difference(diff.where, diff.reference, diff.fake, reason) if reason else diff)
    stale = [where for _, where, _ in accepted if where not in used]
    return out, stale
