"""The ``real_provider`` fixture: a test that runs against the real API when a key is set, skips when not.

Which provider: ``@pytest.mark.real_provider("anthropic")`` on the test (default ``"openai"``). The key
comes from the same variables as ``harness smoke`` (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``,
``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``); without one the test is skipped with a reason that names the
variable. The fixture never shows the key (its ``repr`` has the provider and model only).

Example::

    @pytest.mark.real_provider("openai")
    async def test_key_and_model_work(real_provider):
        report = await real_provider.smoke(max_cost_usd="0.01")
        assert report.passed, report.markdown()

    async def test_my_app_against_the_real_api(real_provider):
        config = ClientConfig(models=(real_provider.model_spec(),))
        async with ResilientClient(config) as client: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.client import ModelSpec
    from harness.smoke import SmokeReport

__all__ = ["MARKER", "RealProvider", "real_provider"]

MARKER = "real_provider"


@dataclass(frozen=True)
class RealProvider:
    """A provider with a key from the environment (the key is never part of the repr)."""

    provider: str
    model: str
    key_env: str  # the variable the key came from
    api_key: str = field(repr=False)
    base_url: str | None = None  # None: the provider's public API

    def model_spec(self, model: str | None = None) -> ModelSpec:
        """A reference-client model on this provider, with the key."""
        from harness.client import ModelSpec

        return ModelSpec(model or self.model, self.provider, self.base_url, api_keys=(self.api_key,))

    async def smoke(self, max_cost_usd: str | Decimal = "0.05", **options: Any) -> SmokeReport:
        """``harness smoke``'s battery (preflight-capped) against this provider; the report."""
        from harness.errors import ConfigError
        from harness.smoke import SmokeSettings, preflight, smoke

        settings = SmokeSettings.create(self.provider, self.model, max_cost_usd, self.base_url, **options)
        worst = preflight(settings).total_usd
        if worst > settings.max_cost_usd:
            raise ConfigError(
                "max_cost_usd", f"the battery could cost ${worst}, above the ${settings.max_cost_usd} cap"
            )
        return await smoke(settings, key=self.api_key)


def resolve(provider: str, env: Any = None) -> RealProvider | str:
    """The provider with its key, or the reason to skip."""
    from harness.errors import ConfigError
    from harness.smoke.plan import DEFAULT_MODELS, api_key

    try:
        variable, key = api_key(provider, env)
    except ConfigError:
        from harness.smoke.plan import KEY_ENV

        names = " or ".join(KEY_ENV[provider])
        return f"no {names} in the environment: set it to run this test against the real {provider} API"
    return RealProvider(provider, DEFAULT_MODELS[provider], variable, key)


@pytest.fixture
def real_provider(request: pytest.FixtureRequest) -> RealProvider:
    """The real API of the provider the ``real_provider`` marker names (default openai); skips without a key."""
    marker = request.node.get_closest_marker(MARKER)
    provider = str(marker.args[0]) if marker is not None and marker.args else "openai"
    from harness.client.config import PROVIDERS

    if provider not in PROVIDERS:
        raise pytest.UsageError(f"real_provider marker: expected one of {PROVIDERS}, got {provider!r}")
    found = resolve(provider)
    if isinstance(found, str):
        pytest.skip(found)
    return found
