"""`python -m chat2responses.emulator`: run the emulator until interrupted.

Prints one line naming the base URL (`http://HOST:PORT/backend-api/codex`) once it listens, so a
script that asked for `--port 0` can read the port from it, then one line describing the latency
model. `--help` lists every switch: routing (`--ws-only-models`, `--http-models`,
`--refuse-websocket`, `--unstable-websocket`), the catalog (`--models-file`), the account's tiers
(`--account-tiers`), the WebSocket age limit (`--ws-max-age`),
latency (`--rtt-ms`, `--upload-kbps`, `--prefill-us-per-token`, `--prefill-us-per-cached-token`),
login (`--token-ttl`, `--require-login`; token endpoint `http://HOST:PORT/oauth/token`) and quota
(`--plan-type`, `--rate-limits-event`, `--quota-primary-used`, `--quota-secondary-used`,
`--quota-primary-window`, `--quota-secondary-window`, `--usage-limit`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chat2responses.emulator.backend import (
    WS_MAX_AGE,
    WS_ONLY_TEST_PREFIX,
    Emulator,
    EmulatorConfig,
)
from chat2responses.emulator.latency import Latency
from chat2responses.emulator.login import DEFAULT_TOKEN_TTL
from chat2responses.emulator.quota import Quota, Window
from chat2responses.emulator.server import TOKEN_PATH, serving
from chat2responses.emulator.triggers import scenarios_help


def _families(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())


PROG = "python -m chat2responses.emulator"


def parse_args(argv: Sequence[str] | None = None, prog: str = PROG) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A local Responses upstream that behaves like the ChatGPT Codex backend.",
        epilog=scenarios_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument(
        "--unstable-websocket",
        type=_families,
        default=frozenset(),
        metavar="A,B",
        help="model families whose WebSocket answers are cut right after response.in_progress, "
        "before any output or response.completed, as gpt-6-astra's were (HTTP serves them); one "
        "request asks for it with [scenario:unstable_websocket]",
    )
    parser.add_argument(
        "--account-tiers",
        type=_families,
        default=frozenset({"priority", "flex"}),
        metavar="A,B",
        help="the service tiers the account has (default priority,flex): a request for a tier "
        "the model lists but the account lacks is answered at service_tier auto",
    )
    parser.add_argument(
        "--seed",
        default="emulator",
        help="varies the response ids, and the secret that signs tokens and reasoning items",
    )
    parser.add_argument(
        "--models-file",
        type=Path,
        metavar="PATH",
        help='serve this catalog ({"models": [...]}) instead of the embedded models.json; its '
        "prefer_websockets and use_responses_lite slugs then set the routing rules",
    )
    parser.add_argument(
        "--ws-max-age",
        type=float,
        default=WS_MAX_AGE,
        metavar="SECONDS",
        help="a WebSocket connection's lifetime: the next response.create after it gets "
        "websocket_connection_limit_reached and the socket closes (default %(default)g)",
    )
    _latency_arguments(parser)
    _login_arguments(parser)
    _quota_arguments(parser)
    parser.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    return parser.parse_args(argv)


def _latency_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("latency (all default 0: no delay)")
    group.add_argument(
        "--rtt-ms",
        type=float,
        default=0.0,
        help="round trip added once per HTTP request, WebSocket handshake and response.create",
    )
    group.add_argument(
        "--upload-kbps",
        type=float,
        default=0.0,
        help="upload rate: request bytes / rate is added before the first event (0: unlimited)",
    )
    group.add_argument(
        "--prefill-us-per-token",
        type=float,
        default=0.0,
        help="microseconds per uncached input token, added before the first event",
    )
    group.add_argument(
        "--prefill-us-per-cached-token",
        type=float,
        default=0.0,
        help="microseconds per cached input token, added before the first event",
    )


def _login_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(f"login (POST {TOKEN_PATH} on the same port)")
    group.add_argument(
        "--token-ttl",
        type=int,
        default=DEFAULT_TOKEN_TTL,
        metavar="SECONDS",
        help="lifetime of the access tokens the token endpoint issues (default %(default)s)",
    )
    group.add_argument(
        "--require-login",
        action="store_true",
        help="answer /responses (both transports) 401 unless the Bearer is an unexpired access "
        "token this emulator (same --seed) issued or a test seeded",
    )


def _quota_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("quota (x-codex-* headers, codex.rate_limits)")
    group.add_argument("--plan-type", default="plus", help="plan type (default %(default)s)")
    group.add_argument(
        "--quota-primary-used", type=float, default=0.0, metavar="PERCENT", help="default 0"
    )
    group.add_argument(
        "--quota-secondary-used", type=float, default=0.0, metavar="PERCENT", help="default 0"
    )
    group.add_argument(
        "--quota-primary-window", type=int, default=300, metavar="MINUTES", help="default 300"
    )
    group.add_argument(
        "--quota-secondary-window",
        type=int,
        default=10080,
        metavar="MINUTES",
        help="default 10080",
    )
    group.add_argument(
        "--rate-limits-event",
        action="store_true",
        help="start each WebSocket response with a codex.rate_limits event, as the Codex "
        "backend does (off by default)",
    )
    group.add_argument(
        "--usage-limit",
        action="store_true",
        help="refuse every response with 429 usage_limit_reached (one request can ask for it "
        "with [scenario:usage_limit])",
    )


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    quota = Quota(
        plan_type=args.plan_type,
        primary=Window(args.quota_primary_used, args.quota_primary_window),
        secondary=Window(args.quota_secondary_used, args.quota_secondary_window),
        limit_reached=args.usage_limit,
    )
    latency = Latency(
        args.rtt_ms, args.upload_kbps, args.prefill_us_per_token, args.prefill_us_per_cached_token
    )
    overrides: dict[str, Any] = {
        "http_ok": args.http_models,
        "refuse_websocket": args.refuse_websocket,
        "seed": args.seed,
        "ws_max_age": args.ws_max_age,
        "latency": latency,
        "quota": quota,
        "rate_limits_event": args.rate_limits_event,
        "token_ttl": args.token_ttl,
        "require_login": args.require_login,
        "unstable_websocket": args.unstable_websocket,
        "account_tiers": args.account_tiers,
    }
    if args.models_file is not None:
        overrides["catalog"] = _read_catalog(args.models_file)
    if args.ws_only_models is not None:
        overrides["ws_only"] = args.ws_only_models
    return EmulatorConfig.default(**overrides)


def _read_catalog(path: Path) -> dict[str, Any]:
    try:
        catalog = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"emulator: cannot read --models-file {path}: {exc}") from None
    if not isinstance(catalog, dict) or not isinstance(catalog.get("models"), list):
        raise SystemExit(f'emulator: --models-file {path} is not {{"models": [...]}}')
    return catalog


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    config = config_from(args)
    async with serving(Emulator(config), args.host, args.port) as base_url:
        websocket = "refused" if args.refuse_websocket else "GET /responses"
        print(
            f"emulator: serving {base_url} (POST /responses, GET /models, WebSocket {websocket})",
            flush=True,
        )
        print(config.latency.describe(), flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> None:
    """Runs the emulator; `prog`: how the user called it (`chat2responses emulator`), for
    `--help` and usage errors."""
    args = parse_args(argv, prog)
    config_from(args)  # a bad --models-file ends here, before anything listens
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(run(args))
    except OSError as exc:  # the address is taken or cannot be bound
        raise SystemExit(f"emulator: cannot listen on {args.host}:{args.port}: {exc}") from None
    except KeyboardInterrupt:  # a second Ctrl-C while it stops: stopped, quietly
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
