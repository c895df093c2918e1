"""The OpenAI reader's usage, built by its slots, is the Usage the keyword constructor builds (issue 19).

``openai_client._usage`` builds its :class:`~harness.pricing.Usage` with a positional maker
(:mod:`harness.wire.fastinit`) instead of the frozen dataclass's ``__init__``: for any usage object an
answer may carry (counts, nulls, details or not, floats, bools), the result equals, hashes as and
is as frozen as the Usage of record, and the same errors come out of the same malformed values.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.pricing import Usage
from harness.wire import openai_client

_count = st.one_of(st.none(), st.integers(0, 10**7), st.sampled_from([0, True, 3.0, 2.5, "7", "x", []]))
_details = st.one_of(
    st.none(),
    st.sampled_from(["text", 3]),
    st.fixed_dictionaries({}, optional={"cached_tokens": _count, "reasoning_tokens": _count, "audio_tokens": _count}),
)
_usage = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": _count,
        "completion_tokens": _count,
        "total_tokens": _count,
        "prompt_tokens_details": _details,
        "completion_tokens_details": _details,
    },
)


def _usage_of_record(data: object) -> Usage | None:
    if not isinstance(data, dict):
        return None
    details = data.get("prompt_tokens_details")
    out_details = data.get("completion_tokens_details")
    return Usage(
        int(data.get("prompt_tokens") or 0),
        int(data.get("completion_tokens") or 0),
        int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
        0,
        int(out_details.get("reasoning_tokens") or 0) if isinstance(out_details, dict) else 0,
    )


def _outcome(read: object, data: object) -> object:
    try:
        return read(data)  # type: ignore[operator]
    except (TypeError, ValueError) as exc:
        return type(exc)


@given(data=st.one_of(_usage, st.none(), st.just([])))
@settings(max_examples=400, deadline=None)
def test_usage_by_slots_is_the_usage_of_record(data: object) -> None:
    fast, record = _outcome(openai_client._usage, data), _outcome(_usage_of_record, data)
    assert fast == record
    assert type(fast) is type(record)
    if isinstance(fast, Usage):
        assert dataclasses.astuple(fast) == dataclasses.astuple(record)
        assert hash(fast) == hash(record)
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.input_tokens = 1  # type: ignore[misc]
