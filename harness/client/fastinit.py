"""Positional constructors for frozen dataclasses: :func:`harness.wire.fastinit.positional_maker`, re-exported
for the client's modules (it lives with the wire modules, which build a ``Usage`` per answer too)."""

from __future__ import annotations

from harness.wire.fastinit import positional_maker

__all__ = ["positional_maker"]
