"""``harness serve``: run the fake provider until Ctrl-C or SIGTERM.

    harness serve [--host 127.0.0.1] [--port 0] [--scenario FILE] [--seed N]
                  [--allow-fault-headers] [--api-key KEY ...] [--max-body-bytes N]
                  [--control-token TOKEN]

Prints exactly ``listening on http://HOST:PORT`` (flushed) once the socket listens; port 0 picks a
free port. ``--scenario`` reads the ``[provider]`` table of a scenario TOML (models, keys, quotas) and
its ``[[faults]]`` schedule; command-line options override it. Loopback by default: binding any other
address needs a control token (``--control-token`` or ``HARNESS_CONTROL_TOKEN``), which ``/_fake/*``
and ``/metrics`` then require as ``Authorization: Bearer <token>``; the server warns that it is
reachable from other machines. Its log lines go to stderr, one line each, credentials redacted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.commands._args import seed
from harness.control_api import CONTROL_TOKEN_ENV, control_token_from_env
from harness.errors import ConfigError

__all__ = ["add_parser", "build_core", "run"]


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {value!r}")
    return port


def _size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of bytes ≥ 1024, got {value!r}") from None
    if size < 1024:
        raise argparse.ArgumentTypeError(f"expected a number of bytes ≥ 1024, got {value!r}")
    return size


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the serve options (shared with ``python -m fake_provider``)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=0, help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="scenario TOML whose [provider] table (models, quotas) and [[faults]] configure the server",
    )
    parser.add_argument(
        "--seed",
        type=seed,
        metavar="N",
        help="seed of the answers and of the fault draws (default: the scenario's, else 0)",
    )
    parser.add_argument(
        "--allow-fault-headers",
        action="store_true",
        default=None,
        help="honour the x-fake-status / x-fake-fault test headers (off by default)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this key (repeatable); default: any non-empty key",
    )
    parser.add_argument(
        "--max-body-bytes", type=_size, metavar="N", help="largest request body; larger ones get a 413 (default 4 MiB)"
    )
    parser.add_argument(
        "--control-token",
        metavar="TOKEN",
        help=f"require 'Authorization: Bearer TOKEN' on /_fake/* and /metrics (default: ${CONTROL_TOKEN_ENV}); "
        "required when --host is not a loopback address",
    )
    return parser


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "serve",
        help="run the fake OpenAI / Anthropic / Gemini provider",
        description="Run the fake OpenAI / Anthropic / Gemini provider until Ctrl-C or SIGTERM; "
        "prints 'listening on http://HOST:PORT' once ready.",
    )
    return configure(parser)


def build_core(args: argparse.Namespace) -> Any:
    """The provider core the options describe (ConfigError on a bad scenario)."""
    from fake_provider.config import ProviderConfig
    from fake_provider.core import ProviderCore

    config = ProviderConfig()
    if args.scenario is not None:
        try:
            data = tomllib.loads(args.scenario.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError("--scenario", f"cannot read {str(args.scenario)!r}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("--scenario", f"{str(args.scenario)!r} is not valid TOML: {exc}") from None
        config = ProviderConfig.from_scenario(data)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.allow_fault_headers:
        config = replace(config, allow_fault_headers=True)
    if args.api_keys:
        config = replace(config, allowed_keys=frozenset(args.api_keys))
    if args.max_body_bytes is not None:
        config = replace(config, max_body_bytes=args.max_body_bytes)
    return ProviderCore(config)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def control_token(args: argparse.Namespace) -> str | None:
    """The control token the options ask for; ConfigError when a non-loopback bind has none."""
    from fake_provider.control_auth import is_loopback

    token = args.control_token if args.control_token is not None else control_token_from_env()
    if args.control_token is not None and not args.control_token:
        raise ConfigError("--control-token", "expected a non-empty token")
    if not token and not is_loopback(args.host):
        raise ConfigError(
            "--control-token",
            f"--host {args.host} is not a loopback address: anyone who can reach it could read the request "
            f"log and replace the faults; pass --control-token TOKEN or set {CONTROL_TOKEN_ENV}",
        )
    return token or None


def _log_to_stderr(secrets: tuple[str, ...]) -> None:
    """One redacted line per log record on stderr (aiohttp's, asyncio's and the server's own)."""
    from fake_provider.redaction import OneLineFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("harness serve: %(levelname)s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


async def _main(args: argparse.Namespace, token: str | None) -> None:
    from fake_provider.app import serve
    from fake_provider.control_auth import is_loopback

    core = build_core(args)
    keys = tuple(core.config.allowed_keys or ())
    _log_to_stderr((*keys, token) if token else keys)
    if token is not None and not is_loopback(args.host):
        print(
            f"harness serve: warning: listening on {args.host}, reachable from other machines; "
            "the control API and /metrics require the control token",
            file=sys.stderr,
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready(host: str, port: int) -> None:
        print(f"listening on {_url(host, port)}", flush=True)

    await serve(core, args.host, args.port, stop, ready, token)


def run(args: argparse.Namespace) -> int:
    token = control_token(args)  # ConfigError → exit 2, before anything listens
    try:
        asyncio.run(_main(args, token))
    except OSError as exc:
        print(f"harness serve: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 130
    return 0
