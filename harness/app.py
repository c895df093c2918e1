"""Your own app as the client under test: what ``[client] kind = "app"`` hands it.

``from harness.app import AppEnv`` for the type of the object your ``make_app(env)`` receives;
:mod:`harness.runner.app_client` explains the contract and ``docs/explore.md`` shows an example.
"""

from harness.runner.app_client import AppEnv

__all__ = ["AppEnv"]
