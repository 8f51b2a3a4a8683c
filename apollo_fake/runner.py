"""``apollo-fake run -- CMD``: a fake in a child process, a command against it, then the report.

The fake runs as ``apollo-fake serve`` in a process of its own, in a session of its
own: a Ctrl-C at the terminal must not stop it while the command still cleans up
(server.run must own the main thread of its process anyway). The command runs in a
process group of its own, so that a signal reaches everything it started: every
SIGINT, SIGTERM or SIGHUP this process gets is passed on to that group (the third
one as SIGKILL). When this process owns the terminal, the command's group gets it
for as long as it runs, as a shell does with a foreground job, so that a Ctrl-C
typed there reaches the command once, and Ctrl-Z suspends the whole run.

Once the command ends, whatever it left running in its group is stopped, then the
fake (SIGTERM), which writes its report as it stops. POSIX only.

Then the run is judged (:func:`judge`, :func:`exit_code`): the command's own
failure first, then the contract's checks (a violation, no request at all, coverage
under ``--fail-under``), each with a sentence for the log and a GitHub Actions
workflow command (:func:`workflow_command`) for CI annotations.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from . import report as reports

READY = re.compile(rb"^apollo-fake listening on (https?://\S+)$", re.M)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
READY_TIMEOUT = 60.0  # seconds for the fake to answer: loading a large fixture file takes time
STOP_TIMEOUT = 15.0  # seconds for the fake to stop and write its report
GRACE = 3.0  # seconds the command's leftovers get between SIGTERM and SIGKILL
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Trust:
    """Where an HTTPS fake writes its CA, and where the bundle the command trusts goes."""

    ca: Path  # the fake's CA alone (``serve --tls-ca``)
    bundle: Path  # the system's CAs, then the fake's

    def env(self) -> dict[str, str]:
        """Write the bundle; return the variables that make common clients trust the fake.

        OpenSSL (Python's ssl, httpx, curl, Go, Ruby) reads SSL_CERT_FILE, requests
        REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, curl CURL_CA_BUNDLE; each replaces the
        system's CAs, hence the bundle. Node adds NODE_EXTRA_CA_CERTS to its own.
        """
        from .tls import bundle, write_whole

        write_whole(self.bundle, bundle(self.ca.read_bytes()))
        both = str(self.bundle)
        return {
            "SSL_CERT_FILE": both,
            "REQUESTS_CA_BUNDLE": both,
            "CURL_CA_BUNDLE": both,
            "NODE_EXTRA_CA_CERTS": str(self.ca),
        }


class RunError(Exception):
    """The run could not go on; ``status`` is the exit status to end with."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Outcome:
    """How a run ended: the command's exit status, the signal that cut it short, the report."""

    status: int  # as a shell gives it: 128 + N for a command killed by signal N
    interrupted: int | None  # the first signal this process received, if any
    report: dict[str, Any] | None


def exit_status(returncode: int) -> int:
    """Turn a Popen return code into a shell's exit status (128 + N for signal N)."""
    return 128 - returncode if returncode < 0 else returncode


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        call: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return call


class Supervisor:
    """Start the fake, run the command, pass signals on, and clean up after both."""

    def __init__(self, err: TextIO = sys.stderr) -> None:
        self.err = err
        self.received: list[int] = []
        self.group: int | None = None  # the command's process group, while it runs
        self.terminal = self._owns_terminal()
        self._prctl = _prctl()
        self._previous: dict[int, Any] = {}

    # --- signals ---------------------------------------------------------------

    @contextlib.contextmanager
    def handling_signals(self) -> Iterator[None]:
        """Catch the forwarded signals for the block, then restore the handlers."""
        for forwarded in FORWARDED:
            self._previous[forwarded] = signal.signal(forwarded, self._on_signal)
        try:
            yield
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        self._forward(signum)

    def _forward(self, signum: int) -> None:
        if self.group is None:
            return  # starting or stopping: the main flow looks at self.received
        # Asked three times: the command is not listening.
        sent = signal.SIGKILL if len(self.received) >= 3 else signum
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.group, sent)

    # --- the terminal ----------------------------------------------------------

    @staticmethod
    def _owns_terminal() -> bool:
        try:
            return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
        except OSError:
            return False

    @staticmethod
    def _hand_terminal(group: int) -> None:
        # A process outside the terminal's foreground group that sets it gets
        # SIGTTOU: ignored for the call, as shells do.
        previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            with contextlib.suppress(OSError):
                os.tcsetpgrp(0, group)
        finally:
            signal.signal(signal.SIGTTOU, previous)

    # --- children --------------------------------------------------------------

    def _child_setup(self, own_group: bool) -> Callable[[], None]:
        prctl = self._prctl

        def setup() -> None:
            if own_group:
                os.setpgid(0, 0)
            if prctl is not None:  # end with this process, should it be killed outright
                prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

        return setup

    def start_fake(self, argv: Sequence[str], timeout: float = READY_TIMEOUT) -> tuple[Any, str]:
        """Start ``apollo-fake serve`` and return its process and URL once it answers."""
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=self._child_setup(own_group=False),
        )
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        seen = b""
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.received:
                    raise RunError("interrupted while the fake started", 128 + self.received[0])
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RunError(f"the fake did not answer within {timeout:g} s")
                ready, _, _ = select.select([fd], [], [], min(left, 0.1))
                if not ready:
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = proc.wait()
                    raise RunError(f"the fake did not start (exit status {code})", code or 1)
                seen += chunk
                found = READY.search(seen)
                if found:
                    return proc, found.group(1).decode()
        except BaseException:
            self.stop_fake(proc)
            raise

    def run_command(self, command: Sequence[str], env: dict[str, str]) -> int:
        """Run the command in a process group of its own; return its exit status."""
        if self.received:
            raise RunError("interrupted before the command started", 128 + self.received[0])
        if self._prctl is not None:
            # Orphans of the command become this process's children, to be reaped.
            self._prctl(PR_SET_CHILD_SUBREAPER, 1)
        try:
            proc = subprocess.Popen(
                list(command), env=env, preexec_fn=self._child_setup(own_group=True)
            )
        except FileNotFoundError:
            raise RunError(f"{command[0]}: command not found", 127) from None
        except PermissionError:
            raise RunError(f"{command[0]}: permission denied", 126) from None
        except OSError as exc:
            raise RunError(f"{command[0]}: {exc.strerror or exc}", 126) from None
        self.group = proc.pid
        if self.terminal:
            self._hand_terminal(proc.pid)
        for signum in self.received:  # arrived while the command was being started
            self._forward(signum)
        try:
            status = self._wait(proc)
        finally:
            self.group = None
            if self.terminal:
                self._hand_terminal(os.getpgrp())
            self._stop_group(proc.pid)
        return status

    def _wait(self, proc: subprocess.Popen[bytes]) -> int:
        flags = os.WUNTRACED if self.terminal else 0
        while True:
            try:
                _, status = os.waitpid(proc.pid, flags)
            except ChildProcessError:  # reaped elsewhere: nothing more to learn
                proc.returncode = 0
                return 0
            if os.WIFSTOPPED(status):
                self._suspend(proc.pid)
                continue
            proc.returncode = os.waitstatus_to_exitcode(status)
            return exit_status(proc.returncode)

    def _suspend(self, group: int) -> None:
        """The command was stopped at the terminal (Ctrl-Z): stop too, and resume it with us."""
        self._hand_terminal(os.getpgrp())
        os.kill(os.getpid(), signal.SIGTSTP)
        # Continued (fg or bg): give the terminal back only if it is ours again.
        if self._owns_terminal():
            self._hand_terminal(group)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGCONT)

    def _reap(self, group: int) -> bool:
        """Reap the group's exited members; tell whether any member is left."""
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-group, os.WNOHANG)[0]:
                pass
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _stop_group(self, group: int) -> None:
        """Stop what the command left running in its process group."""
        if not self._reap(group):
            return
        print("apollo-fake: the command left processes running; stopping them", file=self.err)
        for signum, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, GRACE)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signum)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not self._reap(group):
                    return
                time.sleep(0.02)

    def stop_fake(self, proc: subprocess.Popen[bytes]) -> int | None:
        """Stop the fake with SIGTERM (it writes its report), SIGKILL if it hangs."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        return code


def run(
    serve_argv: Sequence[str],
    command: Sequence[str],
    report_path: Path,
    *,
    announce: Callable[[str], None] | None = None,
    err: TextIO = sys.stderr,
    trust: Trust | None = None,
) -> Outcome:
    """Serve a fake, run the command against it, stop the fake; return how it all ended.

    ``serve_argv`` starts ``apollo-fake serve`` writing its report to ``report_path``;
    the command gets ``APOLLO_BASE_URL`` and ``APOLLO_BASE_URL_V1`` in its environment,
    and with ``trust`` (a fake serving HTTPS) the variables that make clients trust it.
    """
    supervisor = Supervisor(err)
    with supervisor.handling_signals():
        fake, url = supervisor.start_fake(serve_argv)
        try:
            if announce is not None:
                announce(url)
            env = {**os.environ, "APOLLO_BASE_URL": url, "APOLLO_BASE_URL_V1": url + "/v1"}
            if trust is not None:
                try:
                    env.update(trust.env())
                except OSError as exc:
                    raise RunError(f"cannot write {trust.bundle}: {exc.strerror or exc}") from None
            status = supervisor.run_command(command, env)
        finally:
            code = supervisor.stop_fake(fake)
        interrupted = supervisor.received[0] if supervisor.received else None
    report: dict[str, Any] | None = None
    try:
        report = json.loads(report_path.read_bytes())
    except (OSError, ValueError):
        print(
            f"apollo-fake: the fake wrote no report (it ended with exit status {code})",
            file=err,
        )
    return Outcome(status, interrupted, report)


# --- the verdict ---------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """A contract check the run failed: a title, a sentence for a person, whether it fails."""

    title: str  # short: the title of a CI annotation
    sentence: str  # what went wrong and what to check
    fails: bool  # False for what the options allow (--allow-violations)


def judge(
    doc: dict[str, Any],
    *,
    allow_violations: bool = False,
    allow_no_requests: bool = False,
    fail_under: Fraction | None = None,
) -> list[Check]:
    """Return the contract checks a report fails, in the order they are told."""
    found: list[Check] = []
    count = doc["violating-requests"]
    if count:
        found.append(
            Check(
                "Apollo contract violations",
                f"{count} request{'s' * (count != 1)} broke the contract",
                not allow_violations,
            )
        )
    # Only requests that matched a call count as reaching the Apollo calls: a client
    # that builds wrong paths did find the fake, but exercised nothing of the contract.
    # Its 404s are violations and fail the run already, unless --allow-violations;
    # counted here, they would let such a client pass under that flag with nothing tried.
    outside = doc["outside"]
    if doc["requests"] - outside == 0 and not allow_no_requests:
        if outside:
            sentence = (
                f"no request reached the Apollo calls ({outside} request{'s' * (outside != 1)} "
                f"matched none of them): check the paths the client adds to APOLLO_BASE_URL "
                "(or pass --allow-no-requests)"
            )
        else:
            sentence = (
                "no request reached the Apollo calls: check that the client takes its base "
                "URL from APOLLO_BASE_URL (or pass --allow-no-requests)"
            )
        found.append(Check("Apollo contract: no requests", sentence, True))
    checks = doc["coverage"]["checks"]
    # Exact: compared as fractions, never the rounded percentage the report prints.
    if fail_under is not None and checks["exercised"] * 100 < fail_under * checks["total"]:
        found.append(
            Check(
                "Apollo contract: coverage under --fail-under",
                f"{checks['percent']:g}% of the contract's checks were exercised "
                f"({checks['exercised']} of {checks['total']}), under the "
                f"{float(fail_under):g}% of --fail-under: the report's Untested list says "
                "what the client never did",
                True,
            )
        )
    return found


def exit_code(outcome: Outcome, found: Sequence[Check]) -> int:
    """Return the run's exit status: the command's failure first, then the contract's."""
    if outcome.status:
        return outcome.status
    if outcome.interrupted is not None:
        return 128 + outcome.interrupted
    if outcome.report is None or any(check.fails for check in found):
        return 1
    return 0


def consequence(check: Check, outcome: Outcome, status: int) -> str:
    """Say what a failed check does to the exit status, given the run's status."""
    if not check.fails:
        return "allowed"
    if outcome.status:
        return f"exit status {status}, the command's"
    if outcome.interrupted is not None:
        return f"exit status {status}, interrupted"
    return f"exit status {status}"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str, **properties: str) -> str:
    """Spell a GitHub Actions workflow command (``::error title=...::message``), escaped.

    The escaping is the one GitHub documents and its toolkit applies: ``%``, CR and
    LF in the message; also ``:`` and ``,`` in property values.
    """
    props = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + props if props else ''}::{_escape_data(message)}"


def workflow_commands(doc: dict[str, Any], found: Sequence[Check]) -> list[str]:
    """Return the workflow commands of a run: one per kind of violation, one per failed gate."""
    lines = []
    violations_fail = any(c.fails for c in found if c.title == "Apollo contract violations")
    for v in doc["violations"]:
        where = v["field"] or "(request)"
        message = (
            f"{where}: {v['rule']} ({v['count']} request{'s' * (v['count'] != 1)}, "
            f"answered {v['status']}; the first: {v['method']} {v['example']['path']})"
        )
        lines.append(
            workflow_command(
                "error" if violations_fail else "warning",
                message,
                title=f"Apollo contract: {v['method']} {v['path']}",
            )
        )
    for check in found:
        if check.title != "Apollo contract violations":
            lines.append(workflow_command("error", check.sentence, title=check.title))
    return lines


def summary(doc: dict[str, Any], outcome: Outcome, found: Sequence[Check]) -> str:
    """Render the run as Markdown for a CI job's summary: the verdict, its reasons, the report."""
    status = exit_code(outcome, found)
    reasons = []
    if outcome.status:
        reasons.append(f"The command failed: exit status {outcome.status}.")
    elif outcome.interrupted is not None:
        reasons.append(f"The run was interrupted by signal {outcome.interrupted}.")
    reasons += [
        f"{check.sentence[:1].upper()}{check.sentence[1:]} ({consequence(check, outcome, status)})."
        for check in found
    ]
    return reports.markdown(doc, passed=status == 0, reasons=reasons)
