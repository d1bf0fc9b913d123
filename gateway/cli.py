"""The ``voicegw`` command line."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from gateway.settings import ConfigError, Settings, load_settings

app = typer.Typer(help="voicegw: a real-time voice gateway for Twilio Media Streams.")
models_app = typer.Typer(help="Embedded default models: materialise, verify, list.")
app.add_typer(models_app, name="models")
console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config.toml (default: $VOICEGW_CONFIG or ./config.toml)"),
]


def _settings(config: Path | None) -> Settings:
    if config is None:
        env = os.environ.get("VOICEGW_CONFIG")
        default = Path("config.toml")
        config = Path(env) if env else (default if default.is_file() else None)
    try:
        return load_settings(config)
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
) -> None:
    """Load the models and serve the Twilio webhook, media socket, health and metrics."""
    import msgspec
    import uvicorn

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
    uvicorn_config = uvicorn.Config(
        application,
        log_level="warning",
        ws="websockets-sansio",
        # A client that never reads would otherwise hold shutdown open forever.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    uvicorn.Server(uvicorn_config).run(sockets=[listener])


SHUTDOWN_GRACE_S = 5


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


def main() -> None:
    logging.captureWarnings(True)
    app()
