"""The user's own app as the client under test (``[client] kind = "app"``): resolved, run, judged, refused."""

from __future__ import annotations

import itertools
import json
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.runner.run import run_scenario
from harness.scenario.model import load_scenario

_NAMES = itertools.count()

#: an app on the reference client; ``MODE`` chooses its shape (a factory, or an async function per request)
APP = '''
from harness.client import ClientConfig

CONFIG = ClientConfig.parse({"models": [{"name": "gpt-4o-mini", "provider": "openai"}],
                             "retry": {"max_attempts": 4}})

def make_app(env):
    client = env.reference_client(CONFIG)
    async def answer(request):
        return await client.chat(request)
    return answer

async def per_request(request, env):
    # an app that keeps one client per run on the env it is handed
    if not hasattr(env, "client"):
        env.client = env.reference_client(CONFIG)
    return await env.client.chat(request)

async def text_only(request, env):
    if not hasattr(env, "client"):
        env.client = env.reference_client(CONFIG)
    return (await env.client.chat(request)).text   # no cost: the app does not know what it spent

def not_a_factory(env):
    return 42
'''

SCENARIO = '''
version = 1
name = "app_under_test"
seed = {seed}
duration_s = 4
drain_s = 20

[load]
mode = "open"
arrivals = "poisson"
rate = 5.0
prompt_tokens = 40
max_tokens = 20
models = ["gpt-4o-mini"]

[client]
kind = "app"
app = "{target}"
{extra}

[[faults]]
kind = "http"
status = 429
start_s = 1
duration_s = 1
retry_after_s = 0.5

[[gates]]
metric = "lost_requests"

[[gates]]
metric = "cost_abs_error_usd"

[[gates]]
metric = "retry_after_violations"
'''


def write_app(folder: Path, source: str = APP) -> str:
    """A uniquely named app module in ``folder`` (imported modules are cached by name)."""
    name = f"user_app_{next(_NAMES)}_{folder.name}".replace("-", "_")
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return name


def scenario_file(folder: Path, target: str, extra: str = "", seed: int = 1) -> Path:
    path = folder / "scenario.toml"
    path.write_text(SCENARIO.format(target=target, extra=extra, seed=seed))
    return path


@pytest.mark.parametrize("function", ["make_app", "per_request"])
def test_an_app_on_the_reference_client_runs_in_virtual_time_and_is_judged(tmp_path: Path, function: str) -> None:
    module = write_app(tmp_path)
    result = run_scenario(load_scenario(scenario_file(tmp_path, f"{module}:{function}")))
    metrics = result.metrics
    assert result.client == "app"
    assert metrics["requests_logical"] >= 10
    assert metrics["lost_requests"] == 0
    assert metrics["provider_429s"] > 0  # the storm reached the app's client ...
    assert metrics["success_rate"] == 1.0  # ... which retried after the hints
    assert metrics["retry_after_violations"] == 0
    assert Decimal(metrics["cost_abs_error_usd"]) == 0  # the reference client's ChatResponse says what it cost
    # every attempt at the provider is linked to the logical request the app was answering
    ids = {o.id for o in result.outcomes}
    assert {r.logical_id for r in result.provider_records} <= ids
    assert len(result.provider_records) > len(ids)  # the retries are there, under their request
    assert all(g.passed for g in result.gates)


def test_an_app_that_reports_no_cost_fails_the_cost_gate(tmp_path: Path) -> None:
    module = write_app(tmp_path)
    result = run_scenario(load_scenario(scenario_file(tmp_path, f"{module}:text_only")))
    assert Decimal(result.metrics["cost_abs_error_usd"]) > 0
    assert [g.name for g in result.gates if not g.passed] == ["cost_abs_error_usd"]


def test_the_same_seed_gives_the_same_run(tmp_path: Path) -> None:
    module = write_app(tmp_path)
    scenario = load_scenario(scenario_file(tmp_path, f"{module}:make_app", seed=7))
    first, second = run_scenario(scenario), run_scenario(scenario)
    assert first.provider_records == second.provider_records
    assert first.outcomes == second.outcomes


def test_the_module_is_found_at_app_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "apps").mkdir()
    module = write_app(tmp_path / "apps")
    monkeypatch.chdir("/")
    scenario = load_scenario(scenario_file(tmp_path, f"{module}:make_app", extra='app_path = "apps"'))
    assert scenario.client_kind == "app"
    assert Path(scenario.client.folder) == (tmp_path / "apps").resolve()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_here:make_app", "client.app: no module named 'no_such_module_here'"),
        ("{module}:no_such_function", "has no 'no_such_function'"),
        ("{module}", 'expected "module:function"'),
        ("{module}:CONFIG", "is not a function"),
        ("{broken}:make_app", "importing '{broken}' failed: ZeroDivisionError"),
    ],
)
def test_a_wrong_app_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    module = write_app(tmp_path)
    broken = write_app(tmp_path, "x = 1 / 0\n")
    target, message = (s.format(module=module, broken=broken) for s in (target, message))
    path = scenario_file(tmp_path, target)
    with pytest.raises(ConfigError, match=r"client\.app"):
        load_scenario(path)
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message in err
    assert "Traceback" not in err


def test_a_factory_that_returns_no_function_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = write_app(tmp_path)
    path = scenario_file(tmp_path, f"{module}:not_a_factory")
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "must return the async function" in err


def test_a_world_of_an_app_replays_from_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.explore import World, world_toml

    module = write_app(tmp_path)
    base = load_scenario(scenario_file(tmp_path, f"{module}:make_app"))
    elsewhere = tmp_path / "reports" / "deep"
    elsewhere.mkdir(parents=True)
    (elsewhere / "world.toml").write_text(world_toml(base, World(seed=3)))
    monkeypatch.chdir(elsewhere)
    world = load_scenario(elsewhere / "world.toml")
    assert world.client_kind == "app"
    assert world.seed == 3
    summary = tmp_path / "out"
    assert main(["run", str(elsewhere / "world.toml"), "--quiet", "--out", str(summary)]) == 0
    assert json.loads((summary / "summary.json").read_text())["metrics"]["lost_requests"] == 0


@pytest.mark.slow
def test_an_app_runs_over_sockets_in_real_time_with_the_same_promises(tmp_path: Path) -> None:
    from harness.runner.run import RunOptions

    module = write_app(tmp_path)
    result = run_scenario(load_scenario(scenario_file(tmp_path, f"{module}:make_app")), RunOptions(mode="real-time"))
    metrics = result.metrics
    assert metrics["lost_requests"] == 0
    assert metrics["provider_429s"] > 0
    assert metrics["retry_after_violations"] == 0
    assert Decimal(metrics["cost_abs_error_usd"]) == 0
    assert {r.logical_id for r in result.provider_records} <= {o.id for o in result.outcomes}


def test_with_app_puts_a_python_function_into_a_scenario_and_its_worlds(tmp_path: Path) -> None:
    import importlib
    import sys

    from harness.app import with_app
    from harness.explore import World, world_toml

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    module = write_app(tmp_path / "pkg")
    sys.path.insert(0, str(tmp_path))
    try:
        factory = importlib.import_module(f"pkg.{module}").make_app
    finally:
        sys.path.remove(str(tmp_path))
    base = load_scenario(scenario_file(tmp_path, f"{write_app(tmp_path)}:per_request"))  # another app at first
    scenario = with_app(base, factory, max_attempts=4)
    assert scenario.client_kind == "app"
    assert scenario.client.target == f"pkg.{module}:make_app"  # type: ignore[union-attr]
    assert Path(scenario.client.folder) == tmp_path.resolve()  # type: ignore[union-attr]
    result = run_scenario(scenario)
    assert result.metrics["lost_requests"] == 0
    assert Decimal(result.metrics["cost_abs_error_usd"]) == 0
    # a world written from it names the app, importable from the recorded folder in a fresh process
    (tmp_path / "world.toml").write_text(world_toml(scenario, World(seed=2)))
    assert f'app = "pkg.{module}:make_app"' in (tmp_path / "world.toml").read_text()
    import subprocess

    cli = "from harness.cli import main; raise SystemExit(main())"
    command = [sys.executable, "-c", cli, "run", str(tmp_path / "world.toml"), "--quiet", "--out", str(tmp_path / "o")]
    done = subprocess.run(command, capture_output=True, text=True, cwd="/", check=False)
    assert done.returncode == 0, done.stderr


def test_with_app_refuses_a_function_it_could_not_name(tmp_path: Path) -> None:
    from harness.app import with_app

    module = write_app(tmp_path)
    base = load_scenario(scenario_file(tmp_path, f"{module}:make_app"))

    def local(env: object) -> None:
        return None

    with pytest.raises(ConfigError, match="module level"):
        with_app(base, local)
