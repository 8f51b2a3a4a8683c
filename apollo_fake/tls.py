"""HTTPS for the fake: a throwaway certificate authority made at start, and what trusts it.

``serve --tls`` and ``run --tls`` (and ``LiveServer(tls=...)``) present a leaf
certificate for the loopback names, signed by a CA made in memory by trustme when
the server starts. The CA's private key never leaves the process; the leaf's key is
on disk only for the instant :mod:`ssl` loads it (it reads keys from files only), in
a private temporary directory removed at once. What a client needs is the CA's
certificate (:attr:`Authority.ca_pem`), written where ``--tls-ca`` says.
"""

from __future__ import annotations

import datetime
import ssl
import tempfile
from collections.abc import Iterable
from pathlib import Path

import trustme

from .files import write_whole

# The names a loopback client may use: each is in the certificate, whichever it dials.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("", "0.0.0.0", "::")  # addresses to bind to, never to dial
# Long enough for any run; short enough that a CA file left behind soon means nothing.
VALID_FOR = datetime.timedelta(days=7)


class Authority:
    """A throwaway CA and the leaf certificate it signed for the fake's host names."""

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self._ca = trustme.CA(
            organization_name="apollo-fake", organization_unit_name="throwaway test CA"
        )
        names = list(LOOPBACK)
        names += [h for h in hosts if h not in WILDCARDS and h not in names]
        now = datetime.datetime.now(datetime.timezone.utc)
        self.names = tuple(names)
        self._leaf = self._ca.issue_cert(
            *names,
            common_name="apollo-fake",
            # A clock a little behind the fake's own still accepts the certificate.
            not_before=now - datetime.timedelta(hours=1),
            not_after=now + VALID_FOR,
        )

    @property
    def ca_pem(self) -> bytes:
        """Return the CA's certificate (PEM): what a client trusts."""
        return self._ca.cert_pem.bytes()

    @property
    def leaf_pem(self) -> bytes:
        """Return the server's certificate (PEM), as it is presented."""
        return self._leaf.cert_chain_pems[0].bytes()

    def server_context(self) -> ssl.SSLContext:
        """Return a server-side SSL context presenting the leaf certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(prefix="apollo-fake-tls-") as private:
            with self._leaf.private_key_and_cert_chain_pem.tempfile(dir=private) as path:
                context.load_cert_chain(path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Return a client-side SSL context that trusts this CA only."""
        context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        return context

    def write_ca(self, path: Path) -> None:
        """Write the CA's certificate to ``path`` whole (a reader never sees half of it)."""
        write_whole(path, self.ca_pem)


def system_bundle() -> Path | None:
    """Return the CA bundle OpenSSL clients trust by default here, if there is one.

    ``SSL_CERT_FILE`` already set counts (``ssl.get_default_verify_paths`` reads it);
    without a system file, certifi's bundle when it is installed.
    """
    cafile = ssl.get_default_verify_paths().cafile
    if cafile and Path(cafile).is_file():
        return Path(cafile)
    try:
        import certifi
    except ImportError:
        return None
    where = Path(certifi.where())
    return where if where.is_file() else None


def bundle(ca_pem: bytes) -> bytes:
    """Return the system's trusted CAs followed by ``ca_pem``: a file for ``SSL_CERT_FILE``.

    ``SSL_CERT_FILE`` (and ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) replace the
    system's bundle: with the fake's CA alone, a command that also reaches a real
    HTTPS server (a package index, say) would fail to verify it.
    """
    system = system_bundle()
    head = system.read_bytes() if system is not None else b""
    if head and not head.endswith(b"\n"):
        head += b"\n"
    return head + ca_pem
