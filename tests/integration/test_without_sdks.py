"""The SDKs are an optional extra: without them the harness runs the reference client, and a scenario
that names an SDK gets a message naming ``client.kind`` (exit 2), never an ImportError."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# a meta-path finder that makes the SDK packages (and their HTTP libraries) uninstallable for the child
BLOCK = textwrap.dedent(
    """
    import sys
    BLOCKED = {"openai", "anthropic", "litellm", "google", "httpx", "httpx2", "respx"}
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None
    sys.meta_path.insert(0, Block())
    from harness.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def harness_without_sdks(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_reference_client_runs_without_any_sdk_installed(tmp_path: Path) -> None:
    smoke = str(ROOT / "scenarios" / "smoke.toml")
    done = harness_without_sdks("run", smoke, "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "r" / "summary.json").is_file()


def test_a_scenario_naming_a_missing_sdk_is_a_config_error(tmp_path: Path) -> None:
    scenario = tmp_path / "sdk.toml"
    scenario.write_text('version = 1\nduration_s = 1\n[load]\nusers = 1\n[client]\nkind = "litellm"\n')
    done = harness_without_sdks("run", str(scenario), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "client.kind" in done.stderr
    assert "pip install 'llm-harness[sdks]'" in done.stderr
    assert "Traceback" not in done.stderr
