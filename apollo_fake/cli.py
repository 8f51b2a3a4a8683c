"""The ``apollo-fake`` command: serve, generate, validate."""

from __future__ import annotations

import datetime
import gc
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date written YYYY-MM-DD") from None


def _tokens(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        token, sep, user = value.rpartition(":")
        if not sep or not token or not (user.isascii() and user.isdigit()):
            raise click.BadParameter(f"{value!r} is not TOKEN:USER_ID (USER_ID digits)")
        out[token] = int(user)
    return out


def _rate(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    count, sep, seconds = value.partition("/")
    try:
        parsed = (int(count), float(seconds))
    except ValueError:
        parsed = (0, 0.0)
    if not sep or parsed[0] < 1 or not parsed[1] > 0:
        raise click.BadParameter(f"{value!r} is not N/SECONDS, e.g. 100/300")
    return parsed


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="apollo-fake")
def cli() -> None:
    """A fake of the Apollo time-tracking API, for tests."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to bind; 0 picks a free one (read it from the ready line).",
)
@click.option(
    "--fixtures",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fixture file to load (default: the packaged demo data).",
)
@click.option("--seed", type=int, help="Generate data in memory from this seed instead.")
@click.option("--entries", type=click.IntRange(0), help="Entries to generate (with --seed).")
@click.option("--today", callback=_date, help="Freeze the fake clock at this date (YYYY-MM-DD).")
@click.option(
    "--token",
    "tokens",
    multiple=True,
    callback=_tokens,
    metavar="TOKEN:USER_ID",
    help="Accept this API token, acting as that user (repeatable); turns auth on.",
)
@click.option(
    "--rate-limit",
    callback=_rate,
    metavar="N/SECONDS",
    help="Allow N requests per SECONDS per token, then 429 (the vendor's is 100/300).",
)
@click.option(
    "--journal-size",
    type=click.IntRange(1),
    default=10_000,
    show_default=True,
    help="How many requests the journal keeps.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Threads running requests (more let delay faults overlap; 1 gives the best latency).",
)
@click.option("--no-control", is_flag=True, help="Do not serve the /_fake/ control API.")
@click.option(
    "--control-token",
    metavar="TOKEN",
    help="Require this value in the X-Fake-Control-Token header of control calls.",
)
@click.option("--quiet", is_flag=True, help="Do not log each request to stderr.")
def serve(
    host: str,
    port: int,
    fixtures: Path | None,
    seed: int | None,
    entries: int | None,
    today: datetime.date | None,
    tokens: dict[str, int],
    rate_limit: tuple[int, float] | None,
    journal_size: int,
    threads: int,
    no_control: bool,
    control_token: str | None,
    quiet: bool,
) -> None:
    """Serve the fake over HTTP until interrupted."""
    from . import fixtures as fx
    from .errors import FixtureError
    from .fake import Fake, Settings
    from .server import ServerError, run
    from .store import Store
    from .web import create_app

    if fixtures is not None and (seed is not None or entries is not None):
        raise click.UsageError("--fixtures and --seed/--entries exclude each other")
    start = None
    try:
        if seed is not None or entries is not None:
            from .generate import generate

            day = today or datetime.datetime.now(datetime.timezone.utc).date()
            store = fx.build(generate(seed or 0, 500 if entries is None else entries, day))
        elif fixtures is not None:
            store = Store(fx.load_file(fixtures))
        else:
            store = Store(fx.load_file(fx.demo_path()))
            start = None if today is not None else fx.DEMO_TODAY
    except FixtureError as exc:
        if fixtures is not None:
            source = str(fixtures)
        elif seed is not None or entries is not None:
            source = "the generated data"
        else:
            source = "the packaged demo data"
        hint = f"; `apollo-fake validate {fixtures}` lists every problem" if fixtures else ""
        raise click.ClickException(
            f"invalid fixture data in {source}: {exc.summary()}{hint}"
        ) from None
    for token, user in tokens.items():
        if user not in store.users:
            raise click.BadParameter(
                f"user {user} of token {token!r} is not in the data", param_hint="--token"
            )
    settings = Settings(
        tokens=tokens,
        rate_limit=rate_limit,
        journal_size=journal_size,
        control=not no_control,
        control_token=control_token,
    )
    fake = Fake(store, today=today, start=start, settings=settings)
    if host not in ("127.0.0.1", "localhost", "::1") and not (tokens and control_token):
        missing = " and ".join(
            flag
            for flag, given in (("--token", tokens), ("--control-token", control_token))
            if not given
        )
        click.echo(
            f"apollo-fake: warning: listening on {host} without {missing}: anyone who can "
            "reach this address can read and change the data.",
            err=True,
        )

    def ready(bound: int) -> None:
        if start is not None:
            click.echo(
                f"apollo-fake: demo data; the clock starts at {start} (its reference date), "
                "so reports show data. --today DATE sets another day.",
                err=True,
            )
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"apollo-fake listening on http://{shown}:{bound}")
        sys.stdout.flush()

    app = create_app(fake)
    # Everything loaded so far lives as long as the server: keep it out of the
    # cyclic garbage collector, whose full passes over a large data set would
    # otherwise stall requests (the tail latency a client sees).
    gc.collect()
    gc.freeze()
    try:
        run(app, host, port, on_ready=ready, log=None if quiet else sys.stderr, threads=threads)
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--entries", type=click.IntRange(0), default=500, show_default=True)
@click.option("--today", callback=_date, help="Date the data ends at (default: today, UTC).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
def generate(seed: int, entries: int, today: datetime.date | None, output: Path | None) -> None:
    """Write a fixture file made with faker: the same arguments give the same bytes."""
    from . import fixtures as fx
    from .generate import generate as make

    day = today or datetime.datetime.now(datetime.timezone.utc).date()
    if sys.stderr.isatty():
        with click.progressbar(length=entries, label="generating", file=sys.stderr) as bar:
            doc = make(seed, entries, day, progress=bar.update)
    else:
        doc = make(seed, entries, day)
    data = fx.dumps(doc)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def validate(file: Path) -> None:
    """Check a fixture file: its schema and its references."""
    from . import fixtures as fx
    from .errors import FixtureError

    try:
        records = fx.load_file(file)
    except FixtureError as exc:
        for problem in exc.problems:
            click.echo(f"{file}: {problem['field'] or '(document)'}: {problem['message']}")
        sys.exit(1)
    counts = ", ".join(f"{len(v)} {k}" for k, v in records.items() if k != "account")
    click.echo(f"{file}: ok ({counts})")


def main(argv: list[str] | None = None) -> None:
    """Run the command line, with one-line errors instead of usage dumps or tracebacks."""
    try:
        cli.main(args=argv, prog_name="apollo-fake", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("apollo-fake: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"apollo-fake: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(0)
