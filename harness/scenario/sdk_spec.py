"""How a scenario names a third-party client under test: ``kind`` and the SDK's own knobs.

Kept apart from :mod:`harness.runner.sdk_clients` so that reading and validating a scenario never
imports an SDK: the SDKs are an optional extra (``pip install 'llm-harness[sdks]'``), and a scenario
that names one without it installed gets a message naming ``client.kind``, not an ImportError.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from harness.validate import Table

__all__ = ["HARNESS_API_KEY", "SDK_APIS", "SDK_BACKOFF_CAP_S", "SDK_KINDS", "SDK_PACKAGES", "SDKClientSpec"]

#: the key a client under test presents to the fake provider unless the scenario gives it one
#: (the provider's log shows only a hash of it)
HARNESS_API_KEY = "sk-harness-run"

SDK_KINDS = ("openai-sdk", "anthropic-sdk", "litellm")
#: the API each SDK speaks (LiteLLM: whichever the requested model's provider speaks)
SDK_APIS = {"openai-sdk": "openai", "anthropic-sdk": "anthropic"}
#: what each kind imports (the ``sdks`` extra installs them all)
SDK_PACKAGES = {
    "openai-sdk": ("openai", "httpx2"),
    "anthropic-sdk": ("anthropic", "httpx2"),
    "litellm": ("litellm", "httpx", "respx"),
}
#: the SDKs' backoff cap (min(0.5·2^n, 8) s): the herd gate's W for these clients
SDK_BACKOFF_CAP_S = 8.0


@dataclass(frozen=True, slots=True)
class SDKClientSpec:
    """The ``[client]`` section for an SDK under test.

    Example::

        [client]
        kind = "openai-sdk"    # or "anthropic-sdk", or "litellm"
        max_retries = 2        # the SDK default (LiteLLM: its num_retries)
        timeout_s = 600        # the SDK default (openai: 600 s; anthropic: 600 s)
    """

    kind: str
    max_retries: int = 2
    timeout_s: float = 600.0
    api_key: str = HARNESS_API_KEY  # the scenario's api_key, when it gives one (allowed_keys may expect it)

    @classmethod
    def parse(cls, t: Table) -> SDKClientSpec:
        kind = t.choice("kind", SDK_KINDS)
        missing = [name for name in SDK_PACKAGES[kind] if not _installed(name)]
        if missing:
            raise t.error(
                "kind",
                f"{kind!r} needs the {', '.join(missing)} package(s): pip install 'llm-harness[sdks]'",
            )
        spec = cls(
            kind=kind,
            max_retries=t.int("max_retries", 2, min=0, max=100),
            timeout_s=t.float("timeout_s", 600.0, min=0, exclusive_min=True),
            api_key=t.str("api_key", HARNESS_API_KEY),
        )
        t.done()
        return spec

    @property
    def backoff_cap_s(self) -> float:
        return SDK_BACKOFF_CAP_S

    @property
    def max_attempts(self) -> int | None:
        return self.max_retries + 1


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a finder refused it, or a stub without a spec stands in for it
        return False
