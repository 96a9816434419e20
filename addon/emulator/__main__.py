"""`python -m addon.emulator`: run the emulator until interrupted.

Prints one line naming the base URL (`http://HOST:PORT/backend-api/codex`) once it listens, so a
script that asked for `--port 0` can read the port from it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Sequence

from .backend import WS_ONLY_TEST_PREFIX, Emulator, EmulatorConfig
from .server import serving


def _families(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m addon.emulator",
        description="A local Responses upstream that behaves like the ChatGPT Codex backend.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=8787,
        help="port to bind; 0 picks a free one (default %(default)s)",
    )
    parser.add_argument(
        "--ws-only-models",
        type=_families,
        default=None,
        metavar="A,B",
        help="model families refused over HTTP with routing_unsupported (default: the catalog's "
        f"prefer_websockets slugs, and any model starting with {WS_ONLY_TEST_PREFIX!r})",
    )
    parser.add_argument(
        "--http-models",
        type=_families,
        default=frozenset(),
        metavar="A,B",
        help="model families served over HTTP even if --ws-only-models names them",
    )
    parser.add_argument(
        "--refuse-websocket",
        action="store_true",
        help="answer every WebSocket handshake with 426 Upgrade Required, like an upstream "
        "without the WebSocket transport (one handshake can ask for it with the header "
        "x-emulator-refuse-websocket: 1)",
    )
    parser.add_argument("--seed", default="emulator", help="varies the response ids")
    parser.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    overrides = {
        "http_ok": args.http_models,
        "refuse_websocket": args.refuse_websocket,
        "seed": args.seed,
    }
    if args.ws_only_models is not None:
        overrides["ws_only"] = args.ws_only_models
    return EmulatorConfig.default(**overrides)


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serving(Emulator(config_from(args)), args.host, args.port) as base_url:
        websocket = "refused" if args.refuse_websocket else "GET /responses"
        print(
            f"emulator: serving {base_url} (POST /responses, GET /models, WebSocket {websocket})",
            flush=True,
        )
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(run(args))
    except OSError as exc:  # the address is taken or cannot be bound
        raise SystemExit(f"emulator: cannot listen on {args.host}:{args.port}: {exc}") from None


if __name__ == "__main__":
    main()
