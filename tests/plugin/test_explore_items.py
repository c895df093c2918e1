"""[explore] scenarios as property items: pass when no world fails, fail with the minimal counterexample."""

from __future__ import annotations

import json
import textwrap

import pytest

SPACE = """
version = 1
name = "{name}"
seed = 2
duration_s = 3
drain_s = 30

[load]
mode = "closed"
users = 8
requests_per_user = 1
max_tokens = 16

[client]
instances = "per_user"

[[client.models]]
name = "gpt-4o-mini"
provider = "openai"

[client.retry]
max_attempts = 10
backoff = {{ strategy = "{strategy}", base_s = 0.5, cap_s = 4 }}

[client.retry_budget]
enabled = false

[client.breaker]
enabled = false

[[gates]]
metric = "herd_peak_100ms"

[explore]
kinds = ["outage"]
max_faults = 1
horizon_s = 0.1
fault_s = [1, 3]
users = [8, 12]
"""


def test_a_space_where_no_world_fails_is_a_passed_item(project: pytest.Pytester) -> None:
    project.makefile(".toml", calm=textwrap.dedent(SPACE.format(name="calm", strategy="full_jitter")))
    result = project.runpytest("calm.toml", "--harness-examples", "4", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["calm.toml::calm PASSED*"])
    found = json.loads((project.path / "reports" / "calm-explore" / "exploration.json").read_text())
    assert found["passed"] is True
    assert 1 <= found["worlds"] <= 4


def test_a_failing_world_fails_the_item_with_the_minimal_counterexample(project: pytest.Pytester) -> None:
    project.makefile(".toml", herd=textwrap.dedent(SPACE.format(name="herd", strategy="exponential")))
    result = project.runpytest("herd.toml", "--harness-examples", "20")
    result.assert_outcomes(failed=1)
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    (failed,) = [r for r in reports if r.when == "call"]
    lines = str(failed.longrepr).splitlines()
    assert lines[0].startswith("exploration herd: a world failed after ")
    assert lines[1].startswith("  minimal world: seed 0, 8 users; outage 0+1 s")
    assert lines[2].startswith("  herd_peak_100ms = ")
    assert lines[3] == "  counterexample: reports/herd-explore/counterexample.toml (harness run it to replay)"
    assert (project.path / "reports" / "herd-explore" / "report.html").is_file()


def test_a_bad_examples_option_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makefile(".toml", calm=textwrap.dedent(SPACE.format(name="calm", strategy="full_jitter")))
    result = project.runpytest("calm.toml", "--harness-examples", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--harness-examples: expected an integer from 1 to 100000*"])
