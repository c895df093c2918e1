"""``harness smoke`` end to end against the fake provider (these tests have no internet).

The fake provider is what ``--base-url`` points at, with quotas like a first tier so its answers carry
rate-limit headers. Every command runs through ``harness.cli.main`` exactly as typed on a shell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from fake_provider.config import ProviderConfig
from fake_provider.testing import running
from harness.cli import main
from harness.smoke.battery import run_battery
from harness.smoke.fake import TIER_QUOTAS
from harness.smoke.plan import SmokeSettings, preflight
from harness.testing.server import FakeProvider

KEYS = {
    "openai": ("OPENAI_API_KEY", "sk-smoke-test-Kq7Zr2Xw9Lp4Mn8Vb3Jt"),
    "anthropic": ("ANTHROPIC_API_KEY", "sk-ant-smoke-Hd5Gf8Qa1Ws6Ey2Rk9Tu"),
    "gemini": ("GEMINI_API_KEY", "AIzaSmokeTest-Pz4Xc7Vb2Nm5Lk8Jh3G"),
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable, key in KEYS.values():
        monkeypatch.setenv(variable, key)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    return


def _fake(provider: str, faults: list[dict[str, object]] | None = None) -> FakeProvider:
    return FakeProvider.start({"provider": {"quotas": TIER_QUOTAS[provider]}, "faults": faults or []})


def _report(out: Path) -> dict[str, object]:
    return json.loads((out / "report.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_the_battery_passes_against_the_fake_provider(
    provider: str, env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "smoke"
    with _fake(provider) as fake:
        code = main(["smoke", "--provider", provider, "--base-url", fake.url, "--out", str(out)])
        ledger = fake.ledger()
        log = fake.requests()
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = _report(out)
    assert report["passed"] is True
    checks = {c["name"]: c["status"] for c in report["checks"]}  # type: ignore[attr-defined, index]
    expected = {"plain", "rate_limits", "stream", "must_fail", "burst", "cost", "cap"}
    assert set(checks) == expected
    assert checks["rate_limits"] == ("skip" if provider == "gemini" else "pass")
    assert all(status == "pass" for name, status in checks.items() if name != "rate_limits")
    # the client's spend is the provider's bill, to the last digit; the 404 cost nothing
    assert Decimal(report["spent_usd"]) == Decimal(ledger["total"]["cost_usd"])  # type: ignore[arg-type]
    assert sum(1 for r in log if r.status == 404) == 1
    assert sum(1 for r in log if r.status == 200) == 2 + 4  # plain, stream and a burst of four
    shapes = json.loads((out / "shapes.json").read_text())
    assert set(shapes["exchanges"]) == {"chat", "chat_stream", "error_unknown_model"}
    assert shapes["exchanges"]["chat_stream"]["events"]
    assert (out / "report.md").read_text().startswith(f"# smoke: {provider}")
    assert "PASSED" in printed


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_cap_below_the_worst_case_sends_nothing(
    provider: str, env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _fake(provider) as fake:
        code = main(["smoke", "--provider", provider, "--base-url", fake.url, "--max-cost-usd", "0.0000001",
                     "--out", str(tmp_path / "x")])  # fmt: skip
        log = fake.requests()
    err = capsys.readouterr().err
    assert code == 2
    assert log == []
    assert len(err.strip().splitlines()) == 1
    assert "--max-cost-usd" in err
    assert "nothing was sent" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("provider", "variables"),
    [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY"), ("gemini", "GEMINI_API_KEY or GOOGLE_API_KEY")],
)
def test_a_missing_key_is_one_line_naming_the_variable(
    provider: str, variables: str, env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in variables.split(" or "):
        monkeypatch.delenv(variable, raising=False)
    with _fake(provider) as fake:
        code = main(["smoke", "--provider", provider, "--base-url", fake.url])
        log = fake.requests()
    assert code == 2
    assert log == []  # refused before anything was sent
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert f"{variables} is not set" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_500_storm_fails_with_a_reason_per_check(
    provider: str, env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "storm"
    with _fake(provider, [{"kind": "http", "status": 500, "always": True}]) as fake:
        code = main(["smoke", "--provider", provider, "--base-url", fake.url, "--out", str(out)])
        ledger = fake.ledger()
    assert code == 1
    report = _report(out)
    failed = {c["name"]: c["detail"] for c in report["checks"] if c["status"] == "fail"}  # type: ignore[attr-defined, index]
    expected = {"plain", "stream", "burst", "cost"} | ({"rate_limits"} if provider != "gemini" else set())
    assert set(failed) == expected
    for name in ("plain", "stream"):
        assert failed[name].startswith("ServerError (HTTP 500"), failed[name]
    assert "4 of 4 failed" in failed["burst"]
    assert failed["cost"] == "no answer to price"
    if provider != "gemini":  # Gemini announces no limits: its rate_limits check is a skip
        assert failed["rate_limits"] == "no successful answer to read rate-limit headers from"
    # the unknown model is refused before any fault applies, and the cap held (nothing was billed)
    passed = {c["name"] for c in report["checks"] if c["status"] == "pass"}  # type: ignore[attr-defined, index]
    assert passed == {"must_fail", "cap"}
    assert Decimal(ledger["total"]["cost_usd"]) == 0
    printed = capsys.readouterr().out
    assert "FAILED" in printed
    assert "ServerError (HTTP 500" in printed  # the reason is in the table, not only in the report


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_the_fake_provider_matches_the_shipped_reference(
    provider: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test that holds the fake provider to the reference shapes (no key needed)."""
    for variable, _ in KEYS.values():
        monkeypatch.delenv(variable, raising=False)
    out = tmp_path / "ref"
    code = main(["smoke", "--provider", provider, "--compare-fake", "--reference", "--out", str(out)])
    compare = _report(out)["compare"]
    assert compare["unaccepted"] == 0, compare["differences"]  # type: ignore[index]
    assert compare["stale_accepted"] == [], "remove these acceptances from the reference: the fake no longer differs"  # type: ignore[index]
    assert compare["not_compared"] == []  # type: ignore[index]
    assert code == 0


def test_compare_fake_names_a_dropped_header_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drop = {
        "kind": "drop",
        "always": True,
        "headers": ["x-ratelimit-remaining-tokens"],
        "fields": ["usage.total_tokens"],
    }
    out = tmp_path / "drop"
    with _fake("openai", [drop]) as fake:
        code = main(["smoke", "--provider", "openai", "--compare-fake", "--reference", "--fake-url", fake.url,
                     "--out", str(out)])  # fmt: skip
    assert code == 1
    differences = {d["where"]: d for d in _report(out)["compare"]["differences"]}  # type: ignore[index]
    assert differences["chat: header x-ratelimit-remaining-tokens"]["fake"] == "missing"
    assert differences["chat_stream: header x-ratelimit-remaining-tokens"]["fake"] == "missing"
    assert differences["chat: body usage.total_tokens"] == {
        "where": "chat: body usage.total_tokens", "reference": "integer", "fake": "missing"
    }  # fmt: skip
    assert "chat_stream: event chat.completion.chunk usage.total_tokens" in differences
    printed = capsys.readouterr().out
    assert "x-ratelimit-remaining-tokens" in printed
    assert "usage.total_tokens" in printed


@pytest.mark.parametrize(
    ("provider", "header", "field", "expected"),
    [
        ("anthropic", "anthropic-ratelimit-output-tokens-reset", "stop_sequence",
         ["chat: header anthropic-ratelimit-output-tokens-reset", "chat_stream: header "
          "anthropic-ratelimit-output-tokens-reset", "chat: body stop_sequence",
          "chat_stream: event message_start message.stop_sequence"]),
        ("gemini", None, "modelVersion", ["chat: body modelVersion", "chat_stream: event data modelVersion"]),
    ],
)  # fmt: skip
def test_compare_fake_names_a_planted_difference_on_each_provider(
    provider: str, header: str | None, field: str, expected: list[str], tmp_path: Path
) -> None:
    drop: dict[str, object] = {"kind": "drop", "always": True, "fields": [field, f"message.{field}"]}
    if header is not None:
        drop["headers"] = [header]
    out = tmp_path / "drop"
    with _fake(provider, [drop]) as fake:
        code = main(["smoke", "--provider", provider, "--compare-fake", "--reference", "--fake-url", fake.url,
                     "--out", str(out)])  # fmt: skip
    assert code == 1
    differences = {d["where"]: d for d in _report(out)["compare"]["differences"]}  # type: ignore[index]
    for where in expected:
        assert differences[where]["fake"] == "missing", (where, sorted(differences))
    assert sorted(differences) == sorted(expected)  # the planted difference, and nothing else


def test_compare_fake_against_the_live_run_uses_the_in_process_fake(env: None, tmp_path: Path) -> None:
    """The provider here is a fake with a field planted away: the in-process fake differs from it by that field."""
    drop = {"kind": "drop", "always": True, "fields": ["choices.message.refusal", "choices.delta.refusal"]}
    out = tmp_path / "live"
    with _fake("openai", [drop]) as fake:
        code = main(["smoke", "--provider", "openai", "--base-url", fake.url, "--compare-fake", "--out", str(out)])
    report = _report(out)
    wheres = {d["where"]: d for d in report["compare"]["differences"]}  # type: ignore[index]
    assert wheres["chat: body choices[].message.refusal"]["reference"] == "missing"
    assert code == 1
    assert (out / "shapes.json").exists()
    assert (out / "fake-shapes.json").exists()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_no_key_or_piece_of_one_in_any_output(
    provider: str, env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provider whose error messages echo the key whole, masked (as OpenAI's 401 does) and cut to a prefix;
    every file the run wrote, and what it printed, is searched for the key and its pieces."""
    _, key = KEYS[provider]
    echo = f"Incorrect API key provided: {key[:12]}****{key[-4:]}. Your key {key} and prefix {key[:10]}"
    faults = [{"kind": "stream_error", "after": 2, "always": True, "message": echo}]
    out = tmp_path / "secret"
    with _fake(provider, faults) as fake:
        code = main(["smoke", "--provider", provider, "--base-url", fake.url, "--out", str(out), "--compare-fake"])
    captured = capsys.readouterr()
    assert code == 1
    texts = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()}
    assert set(texts) >= {"report.json", "report.md", "shapes.json", "fake-shapes.json"}
    texts["stdout"], texts["stderr"] = captured.out, captured.err
    pieces = (key, key[:12], key[:8], key[:6], key[-8:], key[-6:], key[4:14])
    for piece in pieces:
        for name, text in texts.items():
            assert piece not in text, f"{piece!r} in {name}"
    assert "[redacted]" in texts["report.json"]  # the echo reached the report, scrubbed


async def test_during_the_run_the_hard_budget_holds_the_cap() -> None:
    """Past the preflight (called here without it), the client's hard budget is what holds the cap: a cap with
    room for three and a half calls lets the plain and the streamed call through, reserves and releases the
    free 404, and refuses what of the burst no longer fits, before sending it."""
    estimate = preflight(SmokeSettings.create("openai"))
    cap = estimate.allowance_usd + estimate.per_call_usd * Decimal("3.5")
    settings = SmokeSettings.create("openai", max_cost_usd=cap)
    async with running(ProviderConfig()) as server:
        result = await run_battery(replace(settings, base_url=server.url), "sk-budget")
        billed = server.core.ledger_dict()["total"]
        statuses = [r.status for r in server.core.log.since(0)]
    checks = {c.name: c for c in result.checks}
    assert checks["must_fail"].status == "pass"
    sent = statuses[3:]  # after plain, stream and the 404: the calls of the burst that were sent
    assert statuses[:3] == [200, 200, 404]
    assert sent == [200] * len(sent)
    refused = 4 - len(sent)
    assert refused >= 1
    assert checks["burst"].status == "fail"
    assert f"{refused} of 4 failed" in checks["burst"].detail
    assert "BudgetExceeded" in checks["burst"].detail
    assert checks["cap"].status == "pass"
    assert f"the hard budget refused {refused} call(s)" in checks["cap"].detail
    assert result.spent_usd == Decimal(billed["cost_usd"]) <= cap


def test_compare_fake_says_what_it_could_not_compare(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provider that answered no call: its shapes hold only errors, so the fake's answers are not compared
    (and the run says so instead of "no difference")."""
    out = tmp_path / "storm"
    with _fake("openai", [{"kind": "http", "status": 500, "always": True}]) as fake:
        code = main(["smoke", "--provider", "openai", "--base-url", fake.url, "--compare-fake", "--out", str(out)])
    assert code == 1
    compare = _report(out)["compare"]
    assert compare["not_compared"] == ["chat", "chat_stream"]  # type: ignore[index]
    wheres = [d["where"] for d in compare["differences"]]  # type: ignore[index]
    assert wheres == ["chat_500", "chat_stream_500"]  # the provider's 500s, which the fake never gave
    printed = capsys.readouterr().out
    assert "not compared (the reference has no such answer): chat, chat_stream" in printed
    assert "not compared" in (out / "report.md").read_text()


def test_the_console_script_prints_the_table_and_nothing_on_stderr(tmp_path: Path) -> None:
    """As a user runs it (a subprocess, no pytest log capture): the in-process fake's hint about the battery's
    unknown model ("declare it in the scenario") stays out of the output."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "smoke", "--provider", "anthropic", "--compare-fake", "--reference",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    assert "PASSED smoke anthropic" in done.stdout


def test_an_internal_error_is_one_line_without_the_key(
    env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fault of the harness itself (here: the battery raising with the key in its message) is one line on
    stderr, exit 1, the key scrubbed, no traceback."""
    _, key = KEYS["openai"]

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"unexpected answer to a request with Authorization: Bearer {key}\nsecond line")

    monkeypatch.setattr("harness.smoke.run.run_battery", broken)
    code = main(["smoke", "--provider", "openai", "--base-url", "http://127.0.0.1:9", "--out", str(tmp_path / "x")])
    captured = capsys.readouterr()
    assert code == 1
    err = captured.err.strip()
    assert err.splitlines() == [err]
    assert err.startswith("harness smoke: internal error, the run stopped: RuntimeError: unexpected answer")
    assert "[redacted]" in err
    for piece in (key, key[:8], key[-8:]):
        assert piece not in captured.err + captured.out
    assert "Traceback" not in captured.err
