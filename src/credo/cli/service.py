"""The service's commands: serve, keys create, replay."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from credo.cli.common import DEFAULT_STORE, JsonOpt, StoreOpt, emit, fail, stderr, stdout, store
from credo.errors import CredoError
from credo.ledger.book import utc_now
from credo.ledger.chain import from_micros
from credo.service import ROLES
from credo.service.cache import CACHE_RECORDS
from credo.service.keys import BadKeyRequest, make_key
from credo.service.replay import replay as replay_decision
from credo.service.sweep import sweep as sweep_store


def serve(
    url: StoreOpt = DEFAULT_STORE,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    rate: Annotated[float, typer.Option("--rate", help="Requests a second each key may make on average.")] = 1000.0,
    burst: Annotated[int, typer.Option("--burst", help="Requests a key may make at once above its rate.")] = 2000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, max=64, help="Server processes over the one store (rate limits are per process)."
        ),
    ] = 1,
    cache_records: Annotated[
        int,
        typer.Option(
            "--cache-records",
            min=0,
            help="Records' worth of evaluated states each process keeps for later questions (0.5 to 1 KB each).",
        ),
    ] = CACHE_RECORDS,
    inline_notices: Annotated[
        bool,
        typer.Option(
            "--inline-notices",
            help="Deliver each write's notices in the writing request, not in a relay process beside the server.",
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs) over the ledger.

    Notices are delivered by a relay process beside the server, a moment after each write (see
    credo.service.relay); it stops with the server."""
    import contextlib

    import uvicorn

    from credo.service.relay import Relay
    from credo.service.work import share_the_interpreter
    from credo.service.workers import ServeSettings, build

    settings = ServeSettings(url, rate, burst, cache_records, inline_notices)
    opened = store(url)  # opened (and upgraded) once here, so that workers never migrate at once
    _can_listen(host, port)
    stderr.print(f"credo serving {url} on http://{host}:{port} (API documentation at /docs)"
                 + (f" in {workers} processes" if workers > 1 else ""))  # fmt: skip
    relay = contextlib.nullcontext() if inline_notices else Relay(url)
    if workers > 1:
        opened.close()
        settings.export()
        with relay:
            uvicorn.run("credo.service.workers:worker_app", factory=True, workers=workers,
                        host=host, port=port, log_level="warning")  # fmt: skip
        return
    app = build(opened, settings)
    share_the_interpreter()
    with relay:
        uvicorn.run(app, host=host, port=port, log_level="warning")


def _can_listen(host: str, port: int) -> None:
    """Fail in one line, before announcing anything, when the address cannot be listened on."""
    import errno
    import socket

    if not 0 <= port <= 65535:
        fail(f"--port {port}: a port is a number from 0 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is free
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is in use: stop what listens there, or choose another with --port")
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


keys = typer.Typer(
    help="API keys: one per agency, provider, subject, reviewer, auditor or admin.", no_args_is_help=True
)


@keys.command()
def create(
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")],
    source: Annotated[str | None, typer.Option("--source", help="agency: the source it reports as.")] = None,
    actions: Annotated[str | None, typer.Option("--actions", help="provider: actions it may ask, A,B.")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="subject: whose data it may read.")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="When it stops working: a duration (P90D) or a date (UTC).")
    ] = None,
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once; only its hash is stored."""
    wanted = tuple(action.strip() for action in (actions or "").split(",") if action.strip())
    try:
        made = make_key(store(url), role, utc_now(), source=source, actions=wanted, subject=subject, expires=expires)
    except BadKeyRequest as exc:
        fail(str(exc))
    if as_json:
        until = made.stored.expires_us
        emit({"key": made.key, "expires": None if until is None else from_micros(until).isoformat()})
    else:
        stdout.print(made.key)
        stderr.print("keep this key: credo stores only its hash and cannot show it again")


def replay(
    decision_id: Annotated[str, typer.Argument(help="The decision id a provider received.")],
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """Recompute a logged decision from the ledger position and rulebook version it used."""
    try:
        result = replay_decision(store(url), decision_id)
    except CredoError as exc:
        fail(str(exc))
    if as_json:
        emit({"decision_id": decision_id, "same": result.same, "logged": result.logged,
              "recomputed": result.recomputed})  # fmt: skip
    elif result.same:
        stdout.print(f"decision {decision_id} replays the same: {result.logged['decision']}")
    else:
        stderr.print(f"[red]decision {decision_id} replays differently[/red]", markup=True)
        stderr.print(json.dumps({"logged": result.logged, "recomputed": result.recomputed}, indent=2), markup=False)
    if not result.same:
        raise typer.Exit(1)


def sweep(
    url: StoreOpt = DEFAULT_STORE,
    quick: Annotated[
        bool, typer.Option("--quick", help="Check the chains from the last checkpoint only, not from their start.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify every chain, lapse overdue appeals, notify what time alone changed (run it from cron)."""
    report = sweep_store(store(url), utc_now, whole=not quick)
    if as_json:
        emit(report.__dict__)
    elif report.chain is not None:
        stderr.print(f"[red]the chain does not verify[/red]: {report.chain}; nothing was swept", markup=True)
    else:
        stdout.print(
            f"swept at {report.now}: {report.lapsed_appeals} appeal(s) lapsed, {report.notices} notice(s) sent"
        )
    if report.chain is not None:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys, name="keys")
    app.command()(replay)
    app.command()(sweep)
