"""Every public module of the fake provider lists what it exports, and every listed name exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import fake_provider

MODULES = sorted(
    name
    for _, name, _ in pkgutil.iter_modules(fake_provider.__path__, "fake_provider.")
    if name != "fake_provider.__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported)
    missing = [item for item in exported if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ lists missing names {missing}"


def test_the_package_exports_the_faults_and_quotas() -> None:
    for item in ("FaultSchedule", "FaultSpec", "QuotaConfig", "Limits", "ProviderCore", "ProviderConfig"):
        assert item in fake_provider.__all__
        assert getattr(fake_provider, item) is not None
