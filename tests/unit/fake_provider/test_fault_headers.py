"""The x-fake-fault / x-fake-status test headers: every kind parses to the fault it names."""

from __future__ import annotations

import pytest

from fake_provider.fault import Fault, merge_faults, parse_fault_headers
from fake_provider.plan import TransportFault
from harness.wire.neutral import RequestInvalid


def fault(value: str) -> Fault:
    parsed = parse_fault_headers({"x-fake-fault": value})
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("stream_cut_after=5", Fault("header:stream_cut_after=5", cut_after_chunks=5)),
        ("stall_after=3; stall_s=2", Fault("header:stall_after=3", stall_after_chunks=3, stall_s=2.0)),
        (
            "stall_after=3; stall_s=2; then=close",
            Fault("header:stall_after=3", stall_after_chunks=3, stall_s=2.0, stall_close=True),
        ),
        ("malformed_at=4", Fault("header:malformed_at=4", malformed_at=4)),
        ("no_done", Fault("header:no_done", no_done=True)),
        ("reset", Fault("header:reset", transport=TransportFault.RESET)),
        ("silence_s=5", Fault("header:silence", transport=TransportFault.SILENCE, silence_s=5.0)),
        ("ttft_s=3", Fault("header:ttft_s=3", extra_ttft_s=3.0)),
        ("inter_token_s=0.25", Fault("header:inter_token_s=0.25", inter_token_s=0.25)),
        ("slow_headers_s=2", Fault("header:slow_headers_s=2", headers_delay_s=2.0)),
        ("status=429; retry_after=2", Fault("header:429", 429, 2.0, "s")),
        ("status=503; retry_after_ms=250", Fault("header:503", 503, 0.25, "ms")),
        ("status=500; retry_after_date=3", Fault("header:500", 500, 3.0, "date")),
        ("status=429; code=insufficient_quota", Fault("header:429", 429, code="insufficient_quota")),
        ("stream_error_after=2", Fault("header:stream_error_after=2", error_after_chunks=2)),
        ("stream_error_after=2; status=529", Fault("header:stream_error_after=2", 529, error_after_chunks=2)),
        ("context_length", Fault("header:context_length", 400, special="context_length")),
        ("content_filter", Fault("header:content_filter", 400, special="content_filter")),
        # part 1's spellings
        ("silence; seconds=1.5", Fault("header:silence", transport=TransportFault.SILENCE, silence_s=1.5)),
        ("cut; after_tokens=3", Fault("header:cut_after=3", cut_after_tokens=3)),
        ("error; after_tokens=3; status=529", Fault("header:stream_error_after=3", 529, error_after_tokens=3)),
        ("slow; seconds=0.5", Fault("header:slow=0.5", extra_ttft_s=0.5)),
        ("STREAM_CUT_AFTER=1", Fault("header:stream_cut_after=1", cut_after_chunks=1)),
    ],
)
def test_every_header_kind_parses(value: str, expected: Fault) -> None:
    assert fault(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "explode",
        "stream_cut_after",  # needs a value
        "reset=1",  # a flag takes none
        "stream_cut_after=x",
        "stall_after=2; then=later",
        "malformed_at=0",
        "status=200",
        "status=429; retry_after=-1",
        "status=429; colour=red",
        "ttft_s=soon",
        "no_done; extra=1",
        "status=429; nonsense",
    ],
)
def test_malformed_headers_name_the_header(value: str) -> None:
    with pytest.raises(RequestInvalid) as info:
        parse_fault_headers({"x-fake-fault": value})
    assert info.value.param == "x-fake-fault"


def test_x_fake_status_keeps_its_grammar() -> None:
    assert parse_fault_headers({"x-fake-status": "429; retry_after=1; retry_after_ms=1000"}) == Fault(
        "header:429", 429, 1.0, "both"
    )
    with pytest.raises(RequestInvalid):
        parse_fault_headers({"x-fake-status": "status=429"})
    assert parse_fault_headers({}) is None


def test_the_overlap_rule_first_failure_wins_latency_adds() -> None:
    outage = Fault("outage#0", special="overloaded")
    brownout = Fault("brownout#1", 500)
    slow = Fault("latency#2", extra_ttft_s=0.5, inter_token_s=0.01)
    slower = Fault("latency#3", extra_ttft_s=0.25)
    merged = merge_faults(merge_faults(merge_faults(outage, slow), brownout), slower)
    assert merged is not None
    assert (merged.special, merged.status) == ("overloaded", None)  # the first failure
    assert (merged.extra_ttft_s, merged.inter_token_s) == (0.75, 0.01)  # every latency
    assert merged.name == "outage#0+latency#2+latency#3"  # the losing failure is not applied, not named
    only_latency = merge_faults(slow, slower)
    assert only_latency is not None
    assert not only_latency.failure
    assert merge_faults(slow, brownout) == Fault("latency#2+brownout#1", 500, extra_ttft_s=0.5, inter_token_s=0.01)
    assert merge_faults(None, brownout) is brownout
