"""The semantic cache under ``harness load``: each Locust process reports the question every request
asked, so the judge counts wrong hits there too (one process, and a master with two workers sharing
one Redis-backed cache); the savings are measured against the same load in virtual time without the cache.

Each run is bounded (10 s of load at six requests a second, on loopback).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from harness.records import OutcomeRecord, load_jsonl
from tests.integration.locust.conftest import REPO, run_harness

pytestmark = pytest.mark.slow


def _summary(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return data


def _ground_truth(out: Path) -> dict[str, str]:
    """logical id → question, as the processes reported them (records/<tag>.questions)."""
    questions = {}
    for path in sorted((out / "records").glob("*.questions")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rid, qid = line.split(" ")
            questions[rid] = qid
    return questions


def _hits(out: Path) -> list[OutcomeRecord]:
    outcomes = load_jsonl(OutcomeRecord, (out / "outcomes.jsonl").read_text(encoding="utf-8"))
    return [o for o in outcomes if o.source == "semantic-cache"]


def _wrong(hits: list[OutcomeRecord], questions: dict[str, str]) -> int:
    """Hits whose question is not the question of the answer they reused (outside the pool: its own)."""
    return sum(1 for o in hits if questions.get(o.id, o.id) != questions.get(o.cached_from or "", o.cached_from))


@pytest.mark.timeout(240)
def test_one_locust_process_judges_wrong_hits_and_measures_the_savings(tmp_path: Path) -> None:
    out = tmp_path / "one"
    done = run_harness("load", "scenarios/semantic_cache.toml", "--run-time", "10", "--out", str(out), timeout_s=220)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    m = _summary(out)["metrics"]
    questions = _ground_truth(out)
    assert m["requests_logical"] > 30
    assert 0.6 * m["requests_logical"] < len(questions) <= m["requests_logical"]  # 90 % ask a pool question
    hits = _hits(out)
    assert len(hits) == m["semantic_cache_hits"] > 0
    assert m["semantic_cache_wrong_hits"] == _wrong(hits, questions) == 0  # judged, no longer "not available"
    baseline = m["semantic_cache_baseline"]
    assert baseline["mode"] == "virtual"
    assert baseline["requests_logical"] == m["requests_logical"]  # the same arrivals, replayed without the cache
    saved = Decimal(baseline["cost_provider_usd"]) - Decimal(m["cost_provider_usd"])
    assert Decimal(m["semantic_cache_savings_usd"]) == saved > 0
    side = (out / "summary.md").read_text(encoding="utf-8")
    assert "|  | with the cache (locust) | without the cache (virtual, seed 3) |" in side
    assert "This run was locust: the savings compare its measured bill with the simulated bill" in side


@pytest.mark.timeout(300)
def test_a_master_and_two_workers_sharing_a_redis_cache_fail_the_planted_wrong_hits(
    tmp_path: Path, redis_url: str
) -> None:
    text = (REPO / "examples" / "semantic_cache_wrong_hits.toml").read_text(encoding="utf-8")
    text = text.replace(
        "max_entries = 1000\n", f'max_entries = 1000\nbackend = "redis"\n\n[client.redis]\nurl = "{redis_url}"\n'
    )
    scenario = tmp_path / "semantic_cache_wrong_hits.toml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "workers"
    done = run_harness("load", str(scenario), "--workers", "2", "--run-time", "10", "--out", str(out), timeout_s=280)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    summary = _summary(out)
    m = summary["metrics"]
    failed = [g["name"] for g in summary["gates"] if not g["passed"]]
    assert "semantic_cache_wrong_hits" in failed
    questions = _ground_truth(out)
    assert len(list((out / "records").glob("*.questions"))) == 2  # each worker reported its requests' questions
    hits = _hits(out)
    wrong = _wrong(hits, questions)
    assert m["semantic_cache_wrong_hits"] == wrong > 0
    # answers stored by one worker served the other's requests: the merged ground truth judges those too
    tag = lambda rid: rid.rsplit("-", 2)[-2]  # noqa: E731 - req-<seed>-<run>-<process>-<n>
    across = [o for o in hits if o.cached_from and tag(o.cached_from) != tag(o.id)]
    assert across
    assert all(o.id in questions or o.cached_from in questions for o in across)
