"""The ``cartbridge`` command: serve, worker, db, shops, config, outbox, demo.

Agencies script deployments with it; every subcommand reads the same validated
settings as the web app. Secrets given on the command line are stored encrypted and
never printed back.
"""
from __future__ import annotations

import sys

import click

from bridge.settings import SettingsError, load_settings


def _runtime(pool_size: int = 5):
    """The command's runtime, closed when the command ends; the embedded default migrates itself."""
    from bridge.runtime import Runtime
    try:
        runtime = Runtime.from_settings(load_settings(), pool_size=pool_size)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    click.get_current_context().call_on_close(runtime.close)
    _upgrade_if_embedded(runtime)
    return runtime


@click.group()
def cli() -> None:
    """cartbridge: abandoned-cart recovery for Shopify and WooCommerce."""


@cli.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run on each deploy)."""
    from bridge.db.migrate import current, upgrade
    runtime = _runtime()
    upgrade(runtime.engine)  # already done by _runtime on the embedded default; a no-op then
    click.echo(f"database at revision {current(runtime.engine)}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
def serve(host: str, port: int, workers: int) -> None:
    """The web process: receives and stores webhooks, serves pages; never sends."""
    from bridge.serve import serve as run_server
    _runtime().close()  # validates settings and migrates the embedded default before forking
    run_server(host, port, workers)


@cli.command()
@click.option("--once", is_flag=True, help="process what is due now, then exit (cron / Scheduler)")
def worker(once: bool) -> None:
    """Process stored deliveries, then send what is due."""
    from bridge.worker import run
    report = run(_runtime(), once=once)
    if once:
        click.echo(f"deliveries {report.deliveries}, abandoned {report.abandoned}, steps claimed {report.claimed}")


@cli.command()
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--keep-running/--exit", default=True, show_default=True,
              help="keep web and worker running after the demo webhooks")
def demo(port: int, keep_running: bool) -> None:
    """Run the whole loop on SQLite with a demo shop and signed sample webhooks."""
    import logging
    logging.getLogger().setLevel(logging.WARNING)  # the demo prints its own story; problems still show
    from bridge.demo import run_demo
    sys.exit(run_demo(port=port, keep_running=keep_running))


@cli.group()
def keys() -> None:
    """Encryption keys for secrets at rest."""


@keys.command("new")
def keys_new() -> None:
    """Print a new key; put it first in ENCRYPTION_KEYS, keep the old ones after it."""
    from cryptography.fernet import Fernet
    click.echo(Fernet.generate_key().decode())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the first key, so old keys can then be removed."""
    from bridge.services.shops import rotate_secrets
    from bridge.db.engine import unit_of_work
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        count = rotate_secrets(session, runtime.box)
    click.echo(f"{count} secrets re-encrypted under the first key of ENCRYPTION_KEYS")


def _upgrade_if_embedded(runtime) -> None:
    """The embedded default migrates itself; production migrates in the release phase."""
    if runtime.settings.embedded:
        from bridge.db.migrate import upgrade
        upgrade(runtime.engine)


def main() -> None:
    from bridge import cli_discounts, cli_privacy, cli_shops, cli_users  # noqa: F401  (registers their commands)
    from bridge import cli_install, cli_sync  # noqa: F401  (cartbridge shopify toml; cartbridge sync)
    from bridge.logs import configure
    configure()
    cli(prog_name="cartbridge")
