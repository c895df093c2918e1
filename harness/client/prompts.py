"""Prompt versions: named, versioned system prompts per feature, so a change of prompt shows in the numbers.

``[client.prompts]`` declares each prompt's versions and which one is active::

    [client.prompts.support]
    active = "v2"                                   # what a request naming just "support" gets
    versions = { v1 = "You are ACME's support agent. Answer in one sentence.",
                 v2 = "You are ACME's support agent. Be warm, cite the policy, offer next steps …" }

A request names a prompt (``ChatRequest(prompt="support")``, or a version: ``"support@v1"``); the
client puts that version's text first, as the system message, and records ``support@v2`` on the
outcome (``OutcomeRecord.prompt``), so the judge can break cost and success down by prompt version
(``prompt_versions`` in ``summary.json``). A request naming a prompt or version that is not declared
ends in :class:`~harness.errors.NotFound` (code ``prompt_not_configured``), with its outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from harness.client.types import Message
from harness.errors import ConfigError, NotFound
from harness.validate import Table

__all__ = ["Prompt", "Prompts"]


@dataclass(frozen=True, slots=True)
class Prompt:
    """One named prompt: its versions' texts and the active version."""

    name: str
    versions: Mapping[str, str]
    active: str

    def __post_init__(self) -> None:
        where = f"client.prompts.{self.name}"
        if not self.versions:
            raise ConfigError(f"{where}.versions", "declare at least one version")
        for version, text in self.versions.items():
            if not version or "@" in version or not isinstance(text, str) or not text:
                raise ConfigError(f"{where}.versions.{version}", "expected a non-empty text under a name without '@'")
        if self.active not in self.versions:
            known = ", ".join(self.versions)
            raise ConfigError(f"{where}.active", f"unknown version {self.active!r}; declared: {known}")


@dataclass(frozen=True, slots=True)
class Prompts:
    """Every declared prompt, by name."""

    prompts: Mapping[str, Prompt] = field(default_factory=lambda: MappingProxyType({}))

    def resolve(self, spec: str) -> tuple[str, Message]:
        """``"name"`` or ``"name@version"`` → (``"name@version"``, the system message); NotFound otherwise."""
        name, _, version = spec.partition("@")
        prompt = self.prompts.get(name)
        if prompt is None or (version and version not in prompt.versions):
            known = ", ".join(f"{p.name}@{v}" for p in self.prompts.values() for v in p.versions) or "none"
            raise NotFound(f"prompt {spec!r} is not configured (configured: {known})", code="prompt_not_configured")
        chosen = version or prompt.active
        return f"{name}@{chosen}", Message("system", prompt.versions[chosen])

    def __bool__(self) -> bool:
        return bool(self.prompts)

    @classmethod
    def parse(cls, data: object, path: str) -> Prompts:
        t = Table(data, path)
        prompts = {}
        for name in list(t.keys()):
            pt = t.table(name)
            if "@" in str(name):
                raise t.error(str(name), "a prompt's name may not contain '@'")
            vt = pt.table("versions")
            versions = {str(v): vt.str(v) for v in list(vt.keys())}
            vt.done()
            active = pt.str("active", default=next(iter(versions), ""))
            pt.done()
            prompts[str(name)] = Prompt(str(name), MappingProxyType(versions), active)
        t.done()
        return cls(MappingProxyType(prompts))
