"""``ringback …`` commands (SPEC §1). Without DATABASE_URL every command runs on the embedded
PostgreSQL in ``.ringback/pgdata``; ``database_url_or_embedded`` is the one place that decides."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import warnings
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from ringback.admin.schemas import RestaurantCreate, RestaurantOut
from ringback.bootstrap import Container, build_container
from ringback.db.embedded import embedded_database_url
from ringback.db.migrate import head_revision, upgrade_to_head
from ringback.demo import DEFAULT_URL, DEMO_CALLER, demo, demo_reply
from ringback.http.inputs import parse_id
from ringback.http.logs import configure_logging
from ringback.http.metrics import PrometheusMetrics
from ringback.settings import SANDBOX_APP_SECRET, Settings, to_asyncpg_url
from ringback.tenancy.model import TokenKind, mint_token

log = logging.getLogger("ringback.cli")
T = TypeVar("T")

DEFAULT_PGDATA = Path(".ringback") / "pgdata"
ASGI_FACTORY = "ringback.asgi:create_asgi_app"


def database_url_or_embedded(
    settings: Settings,
    *,
    pgdata: Path = DEFAULT_PGDATA,
    start_embedded: Callable[[Path], str] = embedded_database_url,
) -> str:
    """DATABASE_URL when set; else start (or reuse) the embedded PostgreSQL on ``pgdata``."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(pgdata.resolve())


def with_database(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"database_url": to_asyncpg_url(url)})


def sandbox_graph_url(host: str, port: int) -> str:
    """Where ``serve --sandbox`` mounts its Graph stand-in, reachable from this machine."""
    loopback = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}  # noqa: S104
    shown = loopback.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/_sandbox/graph/v21.0"


def serve_environment(args: argparse.Namespace, settings: Settings, url: str) -> dict[str, str]:
    """What the server processes (uvicorn may spawn several) read from the environment."""
    env = {"DATABASE_URL": url, "RINGBACK_RUN_WORKER": "false" if args.no_worker else "true"}
    if args.sandbox:
        env["RINGBACK_SANDBOX"] = "true"
        if "whatsapp_api_base_url" not in settings.model_fields_set:
            env["WHATSAPP_API_BASE_URL"] = sandbox_graph_url(args.host, args.port)
        if settings.whatsapp_app_secret is None:
            # the demo's replies (`ringback demo --reply`) are signed with it (settings.py)
            env["WHATSAPP_APP_SECRET"] = SANDBOX_APP_SECRET
    return env


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ringback", description="Ringback, a missed-call relay.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument("--workers", type=_positive, default=1, help="server processes")
    serve.add_argument("--no-worker", action="store_true", help="no outbox worker in the server")
    serve.add_argument("--sandbox", action="store_true", help="serve a Graph API stand-in")

    commands.add_parser("worker", help="run the outbox worker alone")
    commands.add_parser("migrate", help="apply the database migrations (alembic upgrade head)")

    demo = commands.add_parser(
        "demo",
        help="create or refresh the demo restaurant and its tokens; with --reply, write to it",
    )
    demo.add_argument(
        "--base-url",
        "--url",
        dest="base_url",
        default=DEFAULT_URL,
        help="the local server: in the curl and addresses shown, and where --reply posts",
    )
    demo.add_argument("--json", action="store_true", help="print one JSON object")
    demo.add_argument(
        "--reply",
        metavar="TEXT",
        help="post a signed WhatsApp message TEXT from the demo caller to the running server "
        "(changes nothing else: the tokens stay)",
    )
    demo.add_argument(
        "--from",
        dest="sender",
        default=DEMO_CALLER,
        metavar="NUMBER",
        help=f"who writes with --reply (default: the demo caller, {DEMO_CALLER})",
    )

    restaurants = commands.add_parser("restaurants", help="manage restaurants").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = restaurants.add_parser("create", help="create a restaurant; prints it as JSON")
    create.add_argument("--name", required=True)
    create.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. FR")
    create.add_argument("--timezone", required=True, help="IANA, e.g. Europe/Paris")
    create.add_argument("--slug", help="default: derived from the name")

    tokens = commands.add_parser("tokens", help="manage API tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    mint = tokens.add_parser("create", help='mint a token; prints {"id", "token"}')
    mint.add_argument("--restaurant", required=True, type=_positive, help="restaurant id")
    mint.add_argument("--kind", required=True, choices=[kind.value for kind in TokenKind])
    mint.add_argument("--name", help="a label for the token")
    return parser


def _positive(raw: str) -> int:
    number = parse_id(raw)
    if number is None or number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {raw!r}")
    return number


def _port(raw: str) -> int:
    number = parse_id(raw)
    if number is None or not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port from 1 to 65535, got {raw!r}")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    settings = Settings()
    configure_logging(settings.log_format)
    if not settings.database_url:
        log.info("DATABASE_URL is unset: using the embedded PostgreSQL in %s", DEFAULT_PGDATA)
    url = database_url_or_embedded(settings)
    command: str = args.command
    if command == "serve":
        return serve(args, settings, url)
    if command == "migrate":
        upgrade_to_head(url)
        log.info("database schema at head (%s)", head_revision())
        return 0
    settings = with_database(settings, url)
    if command == "worker":
        return _run(run_worker(settings))
    if command == "demo" and args.reply is not None:
        return _run(_with_container(settings, lambda c: demo_reply(c, args)))
    if command == "demo":
        return _run(_with_container(settings, lambda c: demo(c, args)))
    if command == "restaurants":
        return _run(_with_container(settings, lambda c: create_restaurant(c, args)))
    return _run(_with_container(settings, lambda c: create_token(c, args)))


def _run(work: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await work

    return asyncio.run(wrapped())


async def _with_container(settings: Settings, work: Callable[[Container], Awaitable[T]]) -> T:
    # a one-off command authenticates no token: no cache, so no listener connection to wait for
    container = await build_container(settings, start_worker=False, listen=False)
    try:
        return await work(container)
    finally:
        await container.aclose()


def serve(args: argparse.Namespace, settings: Settings, url: str) -> int:
    import uvicorn

    env = serve_environment(args, settings, url)
    os.environ.update(env)
    metrics_dir = None
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus-client's multiprocess mode: each process writes its figures there and a
        # scrape sums them (SPEC §8); the processes read the variable when they start.
        metrics_dir = tempfile.mkdtemp(prefix="ringback-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if "WHATSAPP_API_BASE_URL" in env:
        log.info("sandbox: WhatsApp messages go to %s", env["WHATSAPP_API_BASE_URL"])
    # uvicorn re-raises the SIGTERM it handled; exit through SystemExit instead, so that atexit
    # stops the embedded PostgreSQL this process started.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(
            ASGI_FACTORY,
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            loop="uvloop",
            http="httptools",
            log_config=None,  # every process logs through configure_logging (RINGBACK_LOG_FORMAT)
        )
    except KeyboardInterrupt:
        return 130
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


async def run_worker(settings: Settings) -> int:
    """The outbox worker alone, until SIGTERM or SIGINT; in-flight sends finish first."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # With PROMETHEUS_MULTIPROC_DIR shared with the servers, their /metrics include this worker.
    metrics = PrometheusMetrics.from_environment()
    # the worker alone authenticates no token: no cache, no listener connection
    container = await build_container(settings, start_worker=True, metrics=metrics, listen=False)
    log.info("outbox worker running (pid %s)", os.getpid())
    try:
        await stop.wait()
    finally:
        log.info("outbox worker stopping")
        await container.aclose()
    return 0


async def create_restaurant(container: Container, args: argparse.Namespace) -> int:
    given = {"name": args.name, "country": args.country, "timezone": args.timezone}
    if args.slug:
        given["slug"] = args.slug
    try:
        body = RestaurantCreate.model_validate(given)
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"])
            print(f"ringback: --{field}: {problem['msg']}", file=sys.stderr)
        return 2
    try:
        stored = await container.tenancy.create_restaurant(body.to_settings(), slug=body.slug)
    except IntegrityError:
        print(f"ringback: the slug {args.slug!r} is already taken", file=sys.stderr)
        return 1
    print(RestaurantOut.from_stored(stored).model_dump_json())
    return 0


async def create_token(container: Container, args: argparse.Namespace) -> int:
    if await container.tenancy.stored_restaurant(args.restaurant) is None:
        print(f"ringback: no restaurant {args.restaurant}", file=sys.stderr)
        return 1
    kind = TokenKind(args.kind)
    token = mint_token(kind)
    token_id = await container.tenancy.create_token(args.restaurant, kind, token, args.name)
    print(json.dumps({"id": str(token_id), "token": token}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
