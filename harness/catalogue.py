"""The model catalogue: each provider's current and recent models, their dated ids and aliases, prices and limits.

The figures live in ``harness/catalogue.json``, shipped with the package, so neither the fake provider
nor the reference client needs anything at run time to know them. Each model names where its figures
come from:

* ``litellm:KEY``: LiteLLM's bundled model map (``model_prices_and_context_window_backup.json`` in
  the ``litellm`` package), entry KEY; the file records the LiteLLM version they were taken from;
* ``published``: a model that map no longer lists (retired or about to be); its figures are the ones
  the provider published, kept by hand.

Refresh the ``litellm:`` figures from the LiteLLM installed beside the harness (``pip install
'llm-harness[sdks]'`` brings it) with::

    python -m harness.catalogue refresh            # rewrites harness/catalogue.json, prints what changed
    python -m harness.catalogue refresh --check    # only reports; exit 1 when figures changed

The refresh reads the JSON file only: it never imports LiteLLM (whose import fetches a remote map).
Aliases (``claude-sonnet-4-0``, ``gpt-4o-2024-08-06``, ``gemini-flash-latest``) are curated here: an
alias reaches its model, with that model's prices, limits and context window.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import importlib.util
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = ["CATALOGUE_PATH", "CatalogueModel", "catalogue", "litellm_map_path", "main", "refresh"]

CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")
_PRICE_KEYS = (
    ("input", "input_cost_per_token"),
    ("output", "output_cost_per_token"),
    ("cached_input", "cache_read_input_token_cost"),
    ("cache_write", "cache_creation_input_token_cost"),
)
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class CatalogueModel:
    """One model of the catalogue; prices are USD per 1M tokens, as decimal strings."""

    name: str  # the canonical id (a dated id where the provider has one)
    api: str  # "openai" | "anthropic" | "gemini"
    kind: str  # "chat" | "embedding"
    aliases: tuple[str, ...]  # other ids that reach this model
    price: tuple[tuple[str, str], ...]  # ("input", "2.5"), ("output", "10"), ("cached_input", …), ("cache_write", …)
    context_window: int
    max_output_tokens: int | None  # None for embedding models
    dimensions: int | None  # embedding size, for embedding models
    source: str  # "litellm:KEY" or "published"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def _model(entry: Mapping[str, Any]) -> CatalogueModel:
    return CatalogueModel(
        name=entry["name"],
        api=entry["api"],
        kind=entry["kind"],
        aliases=tuple(entry.get("aliases", ())),
        price=tuple((k, str(entry["price"][k])) for k, _ in _PRICE_KEYS if k in entry["price"]),
        context_window=int(entry["context_window"]),
        max_output_tokens=entry.get("max_output_tokens"),
        dimensions=entry.get("dimensions"),
        source=entry["source"],
    )


@functools.cache
def catalogue() -> tuple[CatalogueModel, ...]:
    """Every model of ``harness/catalogue.json``, in file order (read once)."""
    document = json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))
    return tuple(_model(entry) for entry in document["models"])


# ------------------------------------------------------------------------------------------ refresh
def litellm_map_path() -> Path | None:
    """LiteLLM's bundled model map, found without importing LiteLLM; None when it is not installed."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).with_name("model_prices_and_context_window_backup.json")
    return path if path.is_file() else None


def _per_million(per_token: object) -> str:
    value = Decimal(str(per_token)) * _MILLION
    value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return format(value, "f")


def refresh(document: Mapping[str, Any], litellm_map: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The catalogue document with every ``litellm:`` model's figures taken from ``litellm_map``, and one
    line per change (a model the map no longer has is kept as it is, and reported)."""
    models: list[dict[str, Any]] = []
    changes: list[str] = []
    for entry in document["models"]:
        entry = dict(entry)
        models.append(entry)
        source = str(entry.get("source", ""))
        if not source.startswith("litellm:"):
            continue
        key = source.removeprefix("litellm:")
        found = litellm_map.get(key)
        if not isinstance(found, Mapping):
            changes.append(f"{entry['name']}: {key!r} is no longer in LiteLLM's map; kept as it was")
            continue
        try:
            price = {
                ours: _per_million(found[theirs])
                for ours, theirs in _PRICE_KEYS
                if found.get(theirs) is not None or ours in ("input", "output")
            }
        except (KeyError, InvalidOperation, ValueError):
            changes.append(f"{entry['name']}: {key!r} has no usable prices in LiteLLM's map; kept as it was")
            continue
        fresh: dict[str, Any] = {"price": price}
        if found.get("max_input_tokens"):
            fresh["context_window"] = int(found["max_input_tokens"])
        if entry["kind"] == "chat" and found.get("max_output_tokens"):
            fresh["max_output_tokens"] = int(found["max_output_tokens"])
        for field, value in fresh.items():
            if entry.get(field) != value:
                changes.append(f"{entry['name']}: {field} {entry.get(field)} → {value}")
                entry[field] = value
    return {**document, "models": models}, changes


def dumps(document: Mapping[str, Any]) -> str:
    """The catalogue as written to disk: one model per line, so a refresh reads as a small diff."""
    head = {k: v for k, v in document.items() if k != "models"}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ', "models": [']
    rows = [" " + json.dumps(m, ensure_ascii=False) for m in document["models"]]
    return "\n".join(lines) + "\n" + ",\n".join(rows) + "\n]}\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.catalogue", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("refresh", help="take the litellm: figures from LiteLLM's bundled model map")
    cmd.add_argument("--litellm-map", type=Path, help="the map's JSON file (default: the installed LiteLLM's)")
    cmd.add_argument("--check", action="store_true", help="only report; exit 1 when figures changed")
    args = parser.parse_args(argv)
    path = args.litellm_map or litellm_map_path()
    if path is None:
        print("litellm is not installed: pip install 'llm-harness[sdks]', or pass --litellm-map FILE", file=sys.stderr)
        return 2
    try:
        litellm_map = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"--litellm-map: cannot read {str(path)!r}: {exc}", file=sys.stderr)
        return 2
    document = json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))
    fresh, changes = refresh(document, litellm_map)
    try:
        version = importlib.metadata.version("litellm") if args.litellm_map is None else "a map given by path"
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    for line in changes:
        print(line)
    if args.check:
        print(f"{len(changes)} change(s) against LiteLLM {version}")
        return 1 if any("→" in line for line in changes) else 0
    fresh["litellm_version"] = version
    CATALOGUE_PATH.write_text(dumps(fresh), encoding="utf-8")
    print(f"{CATALOGUE_PATH}: {len(changes)} change(s), figures from LiteLLM {version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
