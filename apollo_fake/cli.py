"""The ``apollo-fake`` command: serve, run, generate, validate."""

from __future__ import annotations

import datetime
import decimal
import gc
import json
import os
import shlex
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__

if TYPE_CHECKING:
    from . import runner

F = TypeVar("F", bound=Callable[..., Any])
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # addresses only this machine reaches


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


def _control_token(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # An empty token would leave the control API open while the user thinks it closed.
    if value is not None and not value.strip():
        raise click.BadParameter("the token is empty; give a secret, or leave the option out")
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="apollo-fake")
def cli() -> None:
    """A fake of the Apollo time-tracking API, for tests."""


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Combine option decorators into one, applied in the order given (as if stacked)."""

    def apply(func: F) -> F:
        for decorate in reversed(decorators):
            func = decorate(func)
        return func

    return apply


def _listen_options(default_port: int, port_help: str) -> Callable[[F], F]:
    return _options(
        click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind."),
        click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=default_port,
            show_default=True,
            help=port_help,
        ),
    )


# What the fake serves and how it behaves: the options of `serve`, shared with `run`.
_fake_options = _options(
    click.option(
        "--fixtures",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Fixture file to load (default: the packaged demo data).",
    ),
    click.option("--seed", type=int, help="Generate data in memory from this seed instead."),
    click.option("--entries", type=click.IntRange(0), help="Entries to generate (with --seed)."),
    click.option(
        "--today", callback=_date, help="Freeze the fake clock at this date (YYYY-MM-DD)."
    ),
    click.option(
        "--token",
        "tokens",
        multiple=True,
        callback=_tokens,
        metavar="TOKEN:USER_ID",
        help="Accept this API token, acting as that user (repeatable); turns auth on.",
    ),
    click.option(
        "--rate-limit",
        callback=_rate,
        metavar="N/SECONDS",
        help="Allow N requests per SECONDS per token, then 429 (the vendor's is 100/300).",
    ),
    click.option(
        "--journal-size",
        type=click.IntRange(1),
        default=10_000,
        show_default=True,
        help="How many requests the journal keeps.",
    ),
    click.option(
        "--threads",
        type=click.IntRange(1, 256),
        default=10,
        show_default=True,
        help="Delayed answers (delay_ms faults) made at once, each in a thread of its own; "
        "every other request, and the control API, is answered meanwhile.",
    ),
    click.option("--no-control", is_flag=True, help="Do not serve the /_fake/ control API."),
    click.option(
        "--control-token",
        metavar="TOKEN",
        callback=_control_token,
        help="Require this value in the X-Fake-Control-Token header of control calls.",
    ),
    click.option(
        "--quiet",
        is_flag=True,
        help="Do not log requests to stderr (successful reads of the control API never are).",
    ),
)

class OutputFile(click.Path):
    """A file the command writes: checked before anything starts (_check_outputs)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)


_report_options = _options(
    click.option(
        "--report",
        "report_file",
        type=OutputFile(),
        help="Write the contract report to this file as JSON (schemas/contract-report).",
    ),
    click.option(
        "--junit",
        "junit_file",
        type=OutputFile(),
        help="Write the contract report to this file as JUnit XML: a test case per call.",
    ),
    click.option(
        "--html",
        "html_file",
        type=OutputFile(),
        help="Write the contract report to this file as one self-contained HTML page.",
    ),
)

def _check_outputs(ctx: click.Context) -> None:
    """Fail with a usage error (exit 2) unless every output file given can be written.

    Checked before the fake starts and the command runs: a typo in a path must not
    cost a whole run and then look like a contract failure. The files are written
    whole at the end (a temporary file in the same directory, then renamed), so the
    directory must exist and take a new file; a trial file is made and removed.
    """
    import tempfile

    seen: dict[Path, str] = {}
    for option in ctx.command.params:
        path: Path | None = ctx.params.get(option.name or "")
        if not isinstance(option.type, OutputFile) or path is None:
            continue
        flag = option.opts[0]
        hint = f"'{flag}'"
        if path.is_dir():
            raise click.BadParameter(f"{path} is a directory; give a file name", param_hint=hint)
        parent = path.parent
        if not parent.is_dir():
            problem = "does not exist" if not parent.exists() else "is not a directory"
            raise click.BadParameter(f"{path}: its directory {parent} {problem}", param_hint=hint)
        try:
            fd, trial = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".trial")
        except OSError as exc:
            raise click.BadParameter(
                f"{path}: its directory {parent} takes no new file ({exc.strerror or exc})",
                param_hint=hint,
            ) from None
        os.close(fd)
        os.unlink(trial)
        same = seen.setdefault(path.resolve(), flag)
        if same != flag:
            raise click.BadParameter(f"{path} is also the file of {same}", param_hint=hint)


_tls_options = _options(
    click.option(
        "--tls",
        is_flag=True,
        help="Serve HTTPS, with a certificate for 127.0.0.1, localhost and ::1 signed by "
        "a throwaway CA made at start.",
    ),
    click.option(
        "--tls-ca",
        type=OutputFile(),
        metavar="FILE",
        help="With --tls: write the CA's certificate (PEM) to FILE, for clients to trust.",
    ),
)


def _check_tls(tls: bool, tls_ca: Path | None) -> None:
    """Refuse --tls-ca without --tls (exit 2); _check_outputs checks the file."""
    if tls_ca is not None and not tls:
        raise click.UsageError("--tls-ca needs --tls")


def _write(path: Path, data: bytes) -> None:
    """Write a file whole (a reader never sees half of it), or fail with a sentence."""
    from .files import write_whole

    try:
        write_whole(path, data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_reports(
    doc: dict[str, Any],
    report_file: Path | None,
    junit_file: Path | None,
    html_file: Path | None = None,
) -> None:
    from . import htmlreport, report

    if report_file is not None:
        _write(report_file, json.dumps(doc, indent=2).encode() + b"\n")
    if junit_file is not None:
        _write(junit_file, report.junit(doc))
    if html_file is not None:
        _write(html_file, htmlreport.render(doc))


@cli.command()
@_listen_options(8000, "Port to bind; 0 picks a free one (read it from the ready line).")
@_fake_options
@_tls_options
@_report_options
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
    tls: bool,
    tls_ca: Path | None,
    report_file: Path | None,
    junit_file: Path | None,
    html_file: Path | None,
) -> None:
    """Serve the fake over HTTP (HTTPS with --tls) until interrupted.

    With --report, --junit or --html, the contract report is written as the server stops.
    """
    from . import fixtures as fx
    from .errors import FixtureError
    from .fake import Fake, Settings
    from .server import ServerError, run
    from .web import create_app

    if fixtures is not None and (seed is not None or entries is not None):
        raise click.UsageError("--fixtures and --seed/--entries exclude each other")
    _check_tls(tls, tls_ca)
    _check_outputs(click.get_current_context())
    try:
        store, start = fx.starting_store(fixtures, seed, entries, today)
    except ImportError as exc:  # Faker, an extra, for --seed
        raise click.ClickException(str(exc)) from None
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
    if host not in LOOPBACK and not (tokens and control_token):
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
        if start is not None and not quiet:
            kind = "demo" if seed is None and entries is None else "generated"
            click.echo(
                f"apollo-fake: {kind} data; the clock starts at {start} (its reference date), "
                "so reports show data. --today DATE sets another day.",
                err=True,
            )
        if authority is not None and tls_ca is None and not quiet:
            click.echo(
                "apollo-fake: HTTPS with a CA made at start and kept nowhere: "
                "--tls-ca FILE writes it for clients to trust.",
                err=True,
            )
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if authority is not None else "http"
        click.echo(f"apollo-fake listening on {scheme}://{shown}:{bound}")
        sys.stdout.flush()

    authority = None
    if tls:
        from .tls import Authority

        try:
            authority = Authority([host])
        except ValueError as exc:  # a name IDNA refuses (UnicodeError is a ValueError)
            raise click.BadParameter(
                f"{host!r} cannot be named in a certificate: {exc}", param_hint="'--host'"
            ) from None
        if tls_ca is not None:  # before the ready line: a client may read it at once
            try:
                authority.write_ca(tls_ca)
            except OSError as exc:
                raise click.ClickException(
                    f"cannot write {tls_ca}: {exc.strerror or exc}"
                ) from None
    app = create_app(fake)
    _keep_collector_passes_short()
    try:
        run(
            app,
            host,
            port,
            on_ready=ready,
            log=None if quiet else sys.stderr,
            threads=threads,
            tls=authority,
        )
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None
    if report_file is not None or junit_file is not None or html_file is not None:
        _write_reports(fake.contract_report(), report_file, junit_file, html_file)


def _keep_collector_passes_short() -> None:
    """Keep the cyclic garbage collector's passes off the server's tail latency.

    A pass walks every tracked object of the generations it collects: with the
    loaded data, the journal and the entries clients created, that stalls the
    requests it lands in. What is loaded now lives as long as the server, and what
    survives a pass of an older generation is nearly all alive, so both are moved
    out of the collector's sight (``gc.freeze``): each pass then walks only what
    came since the last one. Frozen objects are still freed by reference counting,
    which is how the fake's records die (nothing in the store forms a cycle). What
    a freeze keeps for good is a cycle that was still in use then and became
    garbage later: at most the cycles of the request the pass interrupted.
    No collection first: the collector has run all along, and one now would find
    next to nothing and only delay the start.

    Young passes are rare: the young generation counts the objects made and not
    yet freed, and the fake's requests, refused ones too, free what they make by
    reference counting (tests/test_bounds.py holds refusals to it), so it grows
    with what clients create. Passes over many of those, seldom, cost the requests
    less in total and at the tail than frequent passes over few (see ``bench/``
    and the README).
    """
    gc.freeze()
    gc.set_threshold(100_000, 10, 10)

    def freeze_survivors(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] >= 1:
            gc.freeze()

    gc.callbacks.append(freeze_survivors)


def _serve_argv(params: dict[str, Any]) -> list[str]:
    """Spell the serve options of ``run`` back as ``apollo-fake serve`` arguments."""
    argv = ["--host", params["host"], "--port", str(params["port"])]
    for name in ("fixtures", "seed", "entries", "control_token"):
        if params[name] is not None:
            argv += ["--" + name.replace("_", "-"), str(params[name])]
    if params["today"] is not None:
        argv += ["--today", params["today"].isoformat()]
    for token, user in params["tokens"].items():
        argv += ["--token", f"{token}:{user}"]
    if params["rate_limit"] is not None:
        count, seconds = params["rate_limit"]
        argv += ["--rate-limit", f"{count}/{seconds!r}"]
    argv += ["--journal-size", str(params["journal_size"]), "--threads", str(params["threads"])]
    argv += ["--no-control"] * params["no_control"] + ["--quiet"] * params["quiet"]
    argv += ["--tls"] * params["tls"]
    return argv


def _percent(ctx: click.Context, param: click.Parameter, value: str | None) -> Fraction | None:
    # A fraction, not a float: the gate compares exactly (90.1 is 901/10, not 90.09999...).
    if value is None:
        return None
    try:
        number = decimal.Decimal(value.strip().removesuffix("%"))
    except decimal.InvalidOperation:
        number = decimal.Decimal("NaN")
    if not number.is_finite() or not 0 <= number <= 100:
        raise click.BadParameter(f"{value!r} is not a percentage from 0 to 100")
    return Fraction(number)


RUN_EPILOG = """\b
Exit status, the first that applies:
  CMD's  CMD failed: its own status (128 + N when signal N ended it)
  1      the contract: a request broke it (unless --allow-violations), no request
         reached the Apollo calls (unless --allow-no-requests), the share of checks
         exercised is under --fail-under, or the fake wrote no report
  2      a usage error (a bad option, an output file that cannot be written),
         before the fake starts and CMD runs
  0      otherwise
Every failed check is told on stderr, even when CMD's status wins. Signals (Ctrl-C)
are passed on to CMD. With GITHUB_ACTIONS=true, a Markdown summary is appended to
$GITHUB_STEP_SUMMARY, and each kind of violation and each failed check is an
::error:: line on stdout."""


@cli.command(
    context_settings={"allow_interspersed_args": False},
    epilog=RUN_EPILOG,
)
@_listen_options(0, "Port to bind; 0 (the default) picks a free one.")
@_fake_options
@_tls_options
@_report_options
@click.option(
    "--allow-violations",
    is_flag=True,
    help="Report contract violations without failing (exit 0 when CMD succeeds).",
)
@click.option(
    "--allow-no-requests",
    is_flag=True,
    help="Pass even when no request reached the Apollo calls (by default that fails: "
    "a client that ignores APOLLO_BASE_URL would pass unseen).",
)
@click.option(
    "--fail-under",
    metavar="PERCENT",
    callback=_percent,
    help="Fail when under PERCENT (0-100) of the contract's checks were exercised: "
    "its calls, outcomes, parameters and fields, as the report counts them.",
)
@click.argument(
    "command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARGS]..."
)
def run(
    report_file: Path | None,
    junit_file: Path | None,
    html_file: Path | None,
    allow_violations: bool,
    allow_no_requests: bool,
    fail_under: Fraction | None,
    command: tuple[str, ...],
    **serve_params: Any,
) -> None:
    """Run CMD against a fake and report how it kept the contract.

    The fake serves on a free loopback port; CMD runs with APOLLO_BASE_URL (and
    APOLLO_BASE_URL_V1, the same under /v1) in its environment. With --tls, the URL
    is https:// and SSL_CERT_FILE, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE name a file
    of the system's CAs and the fake's, NODE_EXTRA_CA_CERTS the fake's CA: curl,
    requests, httpx, Python's ssl and node verify the fake as they are. When CMD ends, the
    fake stops and the contract report is printed: every violation, and which calls,
    parameters and outcomes of the contract the client never exercised.
    """
    import tempfile

    from . import report, runner

    if os.name != "posix":
        raise click.ClickException("apollo-fake run needs a POSIX system (signals, process groups)")
    if serve_params["fixtures"] is not None and (
        serve_params["seed"] is not None or serve_params["entries"] is not None
    ):
        raise click.UsageError("--fixtures and --seed/--entries exclude each other")
    _check_tls(serve_params["tls"], serve_params["tls_ca"])
    _check_outputs(click.get_current_context())
    quiet = serve_params["quiet"]

    def announce(url: str) -> None:
        if not quiet:
            click.echo(f"apollo-fake: serving {url} to {shlex.join(command)}", err=True)

    with tempfile.TemporaryDirectory(prefix="apollo-fake-run-") as tmp:
        written = Path(tmp, "report.json")
        serve = [sys.executable, "-m", "apollo_fake", "serve", *_serve_argv(serve_params)]
        trust = None
        if serve_params["tls"]:
            # Absolute: the command may change directory before it reads the variables.
            ca = (serve_params["tls_ca"] or Path(tmp, "ca.pem")).absolute()
            serve += ["--tls-ca", str(ca)]
            trust = runner.Trust(ca, Path(tmp, "ca-bundle.pem"))
        try:
            outcome = runner.run(
                [*serve, "--report", str(written)],
                command,
                written,
                announce=announce,
                trust=trust,
            )
        except runner.RunError as exc:
            click.echo(f"apollo-fake: error: {exc}", err=True)
            _github_failure(f"the run failed: {exc}")
            sys.exit(exc.status)
    doc = outcome.report
    if doc is None:
        _github_failure("the fake wrote no report; the job's log says why")
        sys.exit(runner.exit_code(outcome, []))
    found = runner.judge(
        doc,
        allow_violations=allow_violations,
        allow_no_requests=allow_no_requests,
        fail_under=fail_under,
    )
    status = runner.exit_code(outcome, found)
    sys.stdout.flush()
    click.echo(report.text(doc), nl=False)
    _write_reports(doc, report_file, junit_file, html_file)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        _github(doc, outcome, found)
    for check in found:
        click.echo(
            f"apollo-fake: {check.sentence}: {runner.consequence(check, outcome, status)}",
            err=True,
        )
    sys.exit(status)


def _github(doc: dict[str, Any], outcome: runner.Outcome, found: list[runner.Check]) -> None:
    """Follow GitHub Actions' conventions: a job summary, and annotations on stdout."""
    from . import runner

    _github_write(runner.workflow_commands(doc, found), runner.summary(doc, outcome, found))


def _github_failure(sentence: str) -> None:
    """Under GitHub Actions, tell a run that ended without a report: an annotation, a summary."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    from . import report, runner

    annotation = runner.workflow_command("error", sentence, title="Apollo contract: no report")
    summary = f"## ❌ Apollo contract check failed\n\n- {report.md(sentence)}\n"
    _github_write([annotation], summary)


def _github_write(annotations: list[str], markdown: str) -> None:
    for line in annotations:
        click.echo(line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as out:
                if out.tell():  # after an earlier step's summary: a paragraph break
                    out.write("\n")
                out.write(markdown)
        except OSError as exc:
            # The summary is a convenience: the verdict stands without it.
            click.echo(
                f"apollo-fake: warning: cannot append the job summary to {summary}: "
                f"{exc.strerror or exc}",
                err=True,
            )


@cli.command()
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--entries", type=click.IntRange(0), default=500, show_default=True)
@click.option(
    "--today",
    callback=_date,
    help="Date the data ends at (default: the reference day 2026-06-30, so that the same "
    "seed gives the same bytes on any day).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
def generate(seed: int, entries: int, today: datetime.date | None, output: Path | None) -> None:
    """Write a fixture file made with faker: the same arguments give the same bytes."""
    from . import fixtures as fx
    try:
        from .generate import generate as make
    except ImportError as exc:  # Faker is an extra
        raise click.ClickException(str(exc)) from None

    day = today or fx.DEMO_TODAY
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
        if exc.more:
            click.echo(f"{file}: ... and {exc.more} more problem{'s' * (exc.more != 1)}")
        sys.exit(1)
    counts = ", ".join(f"{len(v)} {k}" for k, v in records.items() if k != "account")
    click.echo(f"{file}: ok ({counts})")


def main(argv: list[str] | None = None) -> None:
    """Run the command line, with one-line errors instead of usage dumps or tracebacks."""
    try:
        cli.main(args=argv, prog_name="apollo-fake", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        # Plain `apollo-fake` asks for the help, as click's standalone mode shows it.
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        sys.exit(0)
    except click.exceptions.Abort:
        click.echo("apollo-fake: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"apollo-fake: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(0)
