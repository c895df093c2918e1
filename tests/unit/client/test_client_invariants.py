"""Hypothesis: random faults on random attempts, in virtual time; the client's promises always hold.

For any sequence of per-attempt faults (error statuses with or without hints, resets, silences, slow
first tokens, cut or stalled streams, mid-stream errors, missing end markers), any provider, plain or
streamed, with or without a fallback: exactly one outcome; every attempt the provider saw is in it;
never more attempts than allowed; never past the total deadline; a success is the whole answer of a
complete attempt; and the client's ledger equals the provider's, in total and per logical request.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.client import RetryBudgetConfig, RetryConfig, Timeouts, equal_jitter
from harness.client.testing import attempt_of
from harness.client.transport import HttpRequest
from tests.unit.client.test_client_support import World, ask, config, run

FAULTS = [
    None,
    {"x-fake-status": "429; retry_after_ms=400"},
    {"x-fake-status": "429"},
    {"x-fake-status": "500"},
    {"x-fake-status": "503; retry_after=1"},
    {"x-fake-fault": "reset"},
    {"x-fake-fault": "silence_s=9"},
    {"x-fake-fault": "ttft_s=9"},
    {"x-fake-fault": "stream_cut_after=2"},
    {"x-fake-fault": "stall_after=2; stall_s=9"},
    {"x-fake-fault": "stream_error_after=1; status=529"},
    {"x-fake-fault": "no_done"},
]
MODELS = ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"]
TOTAL_S = 20.0
MAX_ATTEMPTS = 3


@given(
    model=st.sampled_from(MODELS),
    stream=st.booleans(),
    fallback=st.booleans(),
    faults=st.lists(st.sampled_from(range(len(FAULTS))), min_size=0, max_size=7),
)
def test_every_promise_holds_under_random_faults(model: str, stream: bool, fallback: bool, faults: list[int]) -> None:
    other = next(m for m in MODELS if m != model)
    chain = (model, other) if fallback else (model,)
    cfg = config(
        *chain,
        fallbacks={model: (other,)} if fallback else {},
        retry=RetryConfig(max_attempts=MAX_ATTEMPTS, backoff=equal_jitter(0.1, 1.0)),
        retry_budget=RetryBudgetConfig(ratio=1.0, reserve=100),
        timeouts=Timeouts(connect_s=1, first_token_s=2, stall_s=1, attempt_s=4, total_s=TOTAL_S),
    )

    def rule(request: HttpRequest) -> dict[str, str] | None:
        n = attempt_of(request)
        return FAULTS[faults[n]] if n < len(faults) else None

    async def body(w: World) -> None:
        ok = await w.client.call(ask(model, stream=stream))
        (outcome,) = w.client.outcomes()
        records = w.records
        assert outcome.ok == ok
        assert len(outcome.attempts) == len(records)  # every attempt the provider saw, and no other
        assert [a.n for a in outcome.attempts] == [r.attempt for r in records] == list(range(len(records)))
        assert len(records) <= MAX_ATTEMPTS * len(chain)
        assert outcome.latency_s <= TOTAL_S + 1e-6
        if ok:
            last = records[-1]
            assert last.status == 200
            assert last.finish not in ("cut", "client_gone", "error")
            assert outcome.model == last.model in chain
            assert outcome.output_tokens == last.output_tokens == 8
        else:
            assert outcome.status != "ok"
        w.assert_costs_agree()

    run(body, cfg, rule=rule)
