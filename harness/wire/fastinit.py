"""Positional constructors for the frozen dataclasses the request path builds, at half the cost.

It lives with the wire modules, the layer both sides of the harness import (their readers build a
:class:`~harness.pricing.Usage` per answer); :mod:`harness.client.fastinit` re-exports it.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (looked up and called
once per field): 1.2 µs for :class:`~harness.client.types.ChatResponse`'s 13 fields. For a slotted
class the same object can be made by ``object.__new__`` and one slot descriptor call per field, which
is what :func:`positional_maker` generates (as ``dataclasses`` generates ``__init__``): 0.6 µs. The
result is the same object — equal, hashable, frozen — as the class's own constructor makes.

It applies only where nothing is lost: a slotted dataclass without ``__post_init__`` (no validation
to skip). For any other class the maker is the class itself. Every field is given, in order.

Example::

    make_response = positional_maker(ChatResponse)
    response = make_response(text, model, provider, finish, usage, cost, request_id, 1, ids, latency, ttft,
                             total_cost, "provider")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["positional_maker"]

_T = TypeVar("_T")


def positional_maker(cls: type[_T]) -> Callable[..., _T]:
    """A constructor taking every field of ``cls`` positionally (see the module docstring)."""
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        return cls
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    if any(not f.init for f in fields) or any(name.startswith("_") or name == "obj" for name in names):
        return cls  # a signature the class's own __init__ does not have, or a name the code below uses
    if any(not isinstance(cls.__dict__.get(name), _MemberDescriptor) for name in names):
        return cls
    params = ", ".join(names)
    body = "".join(f"    _set_{i}(obj, {name})\n" for i, name in enumerate(names))
    source = f"def make({params}):\n    obj = _new(_cls)\n{body}    return obj\n"
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    namespace.update({f"_set_{i}": cls.__dict__[name].__set__ for i, name in enumerate(names)})
    exec(source, namespace)  # generated from the class's own field names, as dataclasses does
    make: Callable[..., _T] = namespace["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    make.__doc__ = f"A {cls.__name__} from every field, positionally (harness.client.fastinit)."
    return make


class _Slotted:
    __slots__ = ("x",)


_MemberDescriptor = type(_Slotted.__dict__["x"])
