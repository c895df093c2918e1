"""``harness smoke``: a budget-capped check of a real provider; can hold the fake provider to it.

    harness smoke --provider openai|anthropic|gemini [--model M] [--max-cost-usd X] [--base-url URL]
                  [--out DIR] [--compare-fake [--fake-url URL] [--reference [FILE]]]

The key comes from ``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``
(a missing one is a one-line error naming the variable, exit 2). Before the first request, the
battery's worst case is checked against ``--max-cost-usd`` (default $0.05): above it, nothing is sent
and the exit code is 2. Exit 0: every check passed (and with ``--compare-fake``, no shape difference
the reference does not accept); 1 otherwise. See ``docs/smoke.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from harness.client.config import PROVIDERS
from harness.errors import ConfigError

__all__ = ["add_parser", "run"]

_SHIPPED = "shipped"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "smoke",
        help="a budget-capped check of a real provider; records answer shapes and compares the fake provider",
        description="A short, budget-capped battery against a real provider (key from the environment): "
        "plain and streamed answers, a request that must fail without cost, rate-limit headers, a small burst, "
        "costs. Records the shapes of the answers and can compare the fake provider with them.",
    )
    parser.add_argument("--provider", required=True, choices=PROVIDERS, help="which API to check")
    parser.add_argument("--model", metavar="M", help="the model to call (default: a small one of the provider)")
    parser.add_argument(
        "--max-cost-usd", metavar="X", help="hard cap of the whole run in USD (default 0.05); a worst case above it "
        "is refused before any request",
    )  # fmt: skip
    parser.add_argument("--base-url", metavar="URL", help="send to this server instead of the provider's public API")
    parser.add_argument("--out", type=Path, metavar="DIR", help="report folder (default reports/smoke-PROVIDER)")
    parser.add_argument(
        "--compare-fake", action="store_true",
        help="run the battery against the fake provider too and list every difference of shape",
    )  # fmt: skip
    parser.add_argument(
        "--fake-url", metavar="URL", help="with --compare-fake: a fake provider already running (default: one "
        "started in-process)",
    )  # fmt: skip
    parser.add_argument(
        "--reference", nargs="?", const=_SHIPPED, metavar="FILE",
        help="with --compare-fake: compare the fake provider with this shape file (no FILE: the one shipped for "
        "--provider) instead of calling the provider; needs no key",
    )  # fmt: skip
    return parser


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.smoke import SmokeSettings, api_key, load_reference, preflight, print_report, smoke, write_report
    from harness.smoke.redaction import Redactor

    if args.reference is not None and not args.compare_fake:
        raise ConfigError("--reference", "only with --compare-fake (it is what the fake provider is compared with)")
    if args.fake_url is not None and not args.compare_fake:
        raise ConfigError("--fake-url", "only with --compare-fake")
    if args.fake_url is not None and not args.fake_url.startswith(("http://", "https://")):
        raise ConfigError("--fake-url", f"expected an http:// or https:// URL, got {args.fake_url[:60]!r}")
    if args.reference is not None and args.base_url is not None:
        raise ConfigError("--base-url", "with --reference no provider is called; use --fake-url for the fake provider")
    settings = SmokeSettings.create(args.provider, args.model, args.max_cost_usd, args.base_url)
    estimate = preflight(settings)
    reference = None
    key = None
    secrets: list[str] = []
    if args.reference is not None:
        reference = load_reference(settings.provider, None if args.reference == _SHIPPED else args.reference)
    else:
        _, key = api_key(settings.provider)
        secrets.append(key)
    if estimate.total_usd > settings.max_cost_usd:
        raise ConfigError(
            "--max-cost-usd",
            f"{estimate.sentence(settings)}, above the ${settings.max_cost_usd} cap; nothing was sent (raise "
            f"--max-cost-usd to at least {format(estimate.total_usd.normalize(), 'f')} or choose a cheaper --model)",
        )
    redactor = Redactor(secrets)
    console = Console()
    if not console.is_terminal:  # a log or a CI job: wide enough that names and paths stay on one line
        console = Console(width=max(console.width, 160))
    out = args.out if args.out is not None else Path("reports") / f"smoke-{settings.provider}"
    try:
        with console.status("smoke: starting") as status:

            def on_check(name: str) -> None:
                status.update(f"smoke {settings.provider} {settings.model}: {name}")

            report = asyncio.run(
                smoke(
                    settings, key=key, compare_fake=args.compare_fake, fake_url=args.fake_url, reference=reference,
                    on_check=on_check,
                )
            )  # fmt: skip
    except KeyboardInterrupt:
        print("harness smoke: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a fault of the harness itself: one line, the key scrubbed from it, no traceback
        reason = redactor.scrub(" ".join(f"{type(exc).__name__}: {exc}".splitlines()))
        print(f"harness smoke: internal error, the run stopped: {reason}", file=sys.stderr)
        return 1
    print_report(report, console, redactor)
    try:
        written = write_report(report, out, redactor)
    except OSError as exc:
        print(f"harness smoke: error: cannot write the report to {str(out)!r}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    console.print(f"report: {out}/ ({', '.join(p.name for p in written)})")
    return 0 if report.passed else 1
