"""Prompt versions: declared per name, put first as the system message, recorded on each outcome."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.client import ClientConfig
from harness.client.prompts import Prompts
from harness.errors import ConfigError, NotFound
from tests.unit.client.test_client_support import World, ask, config, run

TABLE = {"support": {"active": "v2", "versions": {"v1": "Be brief.", "v2": "Be warm and cite the policy."}}}


def with_prompts() -> ClientConfig:
    return replace(config(), prompts=Prompts.parse(TABLE, "client.prompts"))


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"support": {"active": "v3", "versions": {"v1": "x"}}}, "client.prompts.support.active"),
        ({"support": {"versions": {}}}, "client.prompts.support.versions"),
        ({"support": {"versions": {"v1": ""}}}, "client.prompts.support.versions.v1"),
        ({"support": {"versions": {"v1": "x"}, "colour": 1}}, "client.prompts.support.colour"),
        ({"sup@port": {"versions": {"v1": "x"}}}, "client.prompts.sup@port"),
    ],
)
def test_mistakes_are_refused_naming_the_field(table: dict[str, object], field: str) -> None:
    data = {"models": [{"name": "gpt-4o-mini", "provider": "openai"}], "prompts": table}
    with pytest.raises(ConfigError) as caught:
        ClientConfig.parse(data)
    assert field in str(caught.value)


def test_a_name_resolves_to_the_active_version_and_a_version_to_itself() -> None:
    prompts = Prompts.parse(TABLE, "client.prompts")
    assert prompts.resolve("support") == prompts.resolve("support@v2")
    version, message = prompts.resolve("support@v1")
    assert (version, message.role, message.content) == ("support@v1", "system", "Be brief.")
    with pytest.raises(NotFound, match="support@v1, support@v2"):
        prompts.resolve("support@v9")
    assert not Prompts()


def test_the_client_sends_the_version_first_and_records_it() -> None:
    async def body(w: World) -> None:
        await w.client.chat(ask(prompt="support"))
        await w.client.chat(ask(prompt="support@v1"))
        await w.client.chat(ask())
        with pytest.raises(NotFound):
            await w.client.chat(ask(prompt="billing"))
        chat = [r for r in w.records if r.api == "openai.chat"]
        assert chat[0].prompt_tokens > chat[1].prompt_tokens > chat[2].prompt_tokens  # the longer text, first
        outcomes = w.client.outcomes()
        assert [o.prompt for o in outcomes] == ["support@v2", "support@v1", None, "billing"]
        assert [o.status for o in outcomes] == ["ok", "ok", "ok", "NotFound"]
        assert len(w.records) == 3  # an unknown prompt sends nothing

    run(body, with_prompts())
