"""The ``real_provider`` fixture: skips with the variable's name without a key; never shows the key."""

from __future__ import annotations

import pytest

from harness.testing.real import RealProvider, resolve
from tests.plugin.conftest import INNER_INI

TEST_FILE = """
import pytest

@pytest.mark.real_provider("anthropic")
def test_uses_anthropic(real_provider):
    assert real_provider.provider == "anthropic"
    assert real_provider.model == "claude-haiku-4-5"
    assert "sk-ant-plugin" not in repr(real_provider)
    spec = real_provider.model_spec()
    assert spec.provider == "anthropic" and spec.api_keys == ("sk-ant-plugin-0123456789",)

def test_defaults_to_openai(real_provider):
    assert real_provider.provider == "openai"
"""


def test_without_keys_every_test_skips_naming_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    pytester.makefile(".ini", pytest=INNER_INI)
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest_inprocess("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*no ANTHROPIC_API_KEY in the environment*real anthropic API*"])
    result.stdout.fnmatch_lines(["*no OPENAI_API_KEY in the environment*"])


def test_with_a_key_the_fixture_gives_the_provider(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-plugin-0123456789")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pytester.makefile(".ini", pytest=INNER_INI)
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest_inprocess("-rs")
    result.assert_outcomes(passed=1, skipped=1)


def test_resolve_reads_the_gemini_fallback_variable() -> None:
    found = resolve("gemini", {"GOOGLE_API_KEY": "g-key-0123456789"})
    assert isinstance(found, RealProvider)
    assert (found.key_env, found.model) == ("GOOGLE_API_KEY", "gemini-2.5-flash")
    assert "g-key" not in repr(found)
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in str(resolve("gemini", {}))
