"""The load's tool, structured-output and cached-prefix shares: drawn from the seed, and only when asked for."""

from __future__ import annotations

from dataclasses import replace

from harness.runner.workload import LOOKUP_TOOL, VERDICT_SCHEMA, Workload
from harness.scenario.load import LoadSpec
from harness.tokenizer import count_messages


def test_zero_shares_leave_the_request_stream_unchanged() -> None:
    plain = Workload(LoadSpec(stream_share=0.3), seed=5, default_model="gpt-4o-mini")
    spec = replace(LoadSpec(stream_share=0.3), tools_share=0.0, structured_share=0.0, cached_prefix_share=0.0)
    same = Workload(spec, seed=5, default_model="gpt-4o-mini")
    assert [plain.request(i) for i in range(50)] == [same.request(i) for i in range(50)]


def test_shares_add_tools_schemas_and_one_shared_prefix() -> None:
    spec = replace(LoadSpec(), tools_share=0.5, structured_share=0.25, cached_prefix_share=0.75)
    work = Workload(spec, seed=5, default_model="gpt-4o-mini")
    requests = [work.request(i) for i in range(400)]
    tools = sum(r.tools == (LOOKUP_TOOL,) for r in requests)
    schemas = sum(r.response_schema == VERDICT_SCHEMA for r in requests)
    prefixed = [r for r in requests if r.messages[0].role == "system"]
    assert 160 <= tools <= 240
    assert 70 <= schemas <= 130
    assert 250 <= len(prefixed) <= 350
    assert len({r.messages[0] for r in prefixed}) == 1  # one shared prefix, so the provider can cache it
    assert prefixed[0].messages[0].cache_ttl == "5m"
    assert abs(count_messages([("system", prefixed[0].messages[0].content)]) - 1500) <= 4
    assert [work.request(i) for i in range(20)] == requests[:20]  # a pure function of (seed, index)


def test_questions_share_asks_pool_questions_in_seeded_wordings() -> None:
    from harness.scenario.questions import question_of

    spec = replace(LoadSpec(), questions_share=0.75, questions=5)
    work = Workload(spec, seed=3, default_model="gpt-4o-mini")
    requests = [work.request(i) for i in range(400)]
    asked = [question_of(r.messages[-1].content) for r in requests]
    pooled = [q for q in asked if q is not None]
    assert 260 <= len(pooled) <= 340
    assert len(set(pooled)) == 5  # the pool's first five questions only
    wordings = {r.messages[-1].content for r, q in zip(requests, asked, strict=True) if q is not None}
    assert len(wordings) == 20  # … each in its four wordings
    assert [work.request(i) for i in range(20)] == requests[:20]


def test_prompts_are_drawn_by_weight_only_when_declared() -> None:
    spec = replace(LoadSpec(), prompts=(("support@v1", 1.0), ("support@v2", 3.0)))
    requests = [Workload(spec, seed=2, default_model="m").request(i) for i in range(400)]
    v2 = sum(r.prompt == "support@v2" for r in requests)
    assert 260 <= v2 <= 340
    assert {r.prompt for r in requests} == {"support@v1", "support@v2"}
    assert Workload(LoadSpec(), seed=2, default_model="m").request(0).prompt is None
