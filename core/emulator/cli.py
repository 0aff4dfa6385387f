"""``dashscope-emulator``: serve the emulator from a shell."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from dashscope_core.emulator._compat_state import settings as batch_settings
from dashscope_core.emulator._server import DEFAULT_MAX_BODY_SIZE, Server
from dashscope_core.emulator.app import API_PREFIX, create_app
from dashscope_core.emulator.faults import FAULT_KINDS, RATE_DEFAULT_KINDS, canonical_kind
from dashscope_core.emulator.ratelimits import parse_limit
from dashscope_core.emulator.state import Emulator

__all__ = ["build_emulator", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (endpoint modules may add theirs here)."""
    parser = argparse.ArgumentParser(
        prog="dashscope-emulator", description="A local DashScope-compatible server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=0, help="seed of ids and answers")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="probability of a random fault per call (kinds: --faults)",
    )
    parser.add_argument(
        "--faults",
        type=_fault_kinds,
        default=None,
        metavar="KIND[,KIND...]",
        help=f"fault kinds --fault-rate picks from (default: {','.join(RATE_DEFAULT_KINDS)}; "
        f"any of {','.join(FAULT_KINDS)})",
    )
    parser.add_argument(
        "--accept-key",
        action="append",
        dest="accept_keys",
        metavar="KEY",
        help="accept only these API keys (repeatable)",
    )
    parser.add_argument(
        "--rate-limit",
        action="append",
        dest="rate_limits",
        metavar="[MODEL:]rpm=N,tpm=N[,burst=off]",
        help="enforce a model's limits with the service's 429s (no MODEL: every model; repeatable)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before every reply's first byte"
    )
    parser.add_argument("--max-body-size", type=int, default=DEFAULT_MAX_BODY_SIZE)
    parser.add_argument(
        "--batch-time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiplies batch durations (0: batches finish at the first look)",
    )
    parser.add_argument(
        "--apps",
        action="append",
        metavar="FILE.json",
        help='Bailian apps to serve besides the demo app ({"apps": [...]}, repeatable)',
    )
    return parser


def _fault_kinds(value: str) -> tuple[str, ...]:
    try:
        return tuple(canonical_kind(k.strip()) for k in value.split(",") if k.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_emulator(args: argparse.Namespace) -> Emulator:
    """An ``Emulator`` configured from parsed options."""
    emulator = Emulator(seed=args.seed, api_keys=args.accept_keys, latency=args.latency)
    for text in getattr(args, "rate_limits", None) or ():
        model, limit = parse_limit(text)
        emulator.rate_limits.set(model, rpm=limit.rpm, tpm=limit.tpm, burst=limit.burst)
    if args.fault_rate:
        emulator.faults.set_rate(args.fault_rate, args.faults, seed=args.seed)
    batch_time_scale = getattr(args, "batch_time_scale", 1.0)
    if batch_time_scale < 0:
        raise SystemExit("--batch-time-scale: expected a number >= 0")
    batch_settings(emulator).time_scale = batch_time_scale
    for path in getattr(args, "apps", None) or ():
        from dashscope_core.emulator.apps import load_apps_file

        load_apps_file(emulator, path)
    return emulator


async def _run(server: Server) -> None:
    await server.start()
    print(f"DashScope emulator on http://{server.host}:{server.port}{API_PREFIX}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until interrupted."""
    args = build_parser().parse_args(argv)
    app = create_app(build_emulator(args))
    server = Server(app, host=args.host, port=args.port, max_body_size=args.max_body_size)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(server))
    return 0
