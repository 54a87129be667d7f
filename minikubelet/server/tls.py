"""TLS for the TCP listener: the kubelet's ``tlsCertFile``/``tlsPrivateKeyFile``, or its own.

    TlsFiles(cert, key)             the operator's two files (``--tls-cert-file``, ...)
    self_signed(dir, names)         a generated certificate, kept under the root dir
    TlsSource                       what both give: ``context()`` and ``certificates()``

The TCP listener always serves HTTPS, as the kubelet's port does: kubectl sends its bearer
token only over TLS (client-go merges user credentials only into a TLS transport), so a
plain-HTTP listener would be of no use to it. When no files are configured the kubelet
generates a self-signed certificate once and keeps it in its ``--cert-dir``
(``pkg/kubelet/kubelet.go`` and ``cmd/kubelet/app/server.go``: ``kubelet.crt`` and
``kubelet.key``, made by ``certutil.GenerateSelfSignedCertKey`` when they cannot be read);
minikubelet does the same in ``<root-dir>/pki/``: ``minikubelet.crt`` holds the serving
certificate followed by the certificate of the small CA that signed it (as
``GenerateSelfSignedCertKeyWithFixtures`` writes them), ``minikubelet.key`` its private key
(0600, in a 0700 directory). They are reused across restarts while they still load, are
valid for more than a day, and name every address the listener can be reached by
(``localhost``, ``127.0.0.1``, ``::1``, this machine's hostname and the configured
address); otherwise new ones replace them. ``minikubelet kubeconfig`` hands the
certificates out as ``certificate-authority-data``, so clients verify the server
properly; nobody needs to skip verification.

Why ECDSA P-256 where the kubelet uses RSA 2048: generating it takes a millisecond instead
of tens to hundreds, it is what Go's TLS stack prefers, and every client of this API
(client-go, Python's ssl, curl) accepts it.

The context is a server context with the library's secure defaults (certificate
verification of clients off: clients authenticate with the bearer token), TLS 1.2 at
least, and HTTP/1.1 offered through ALPN: the API is served over HTTP/1.1 on both
transports (websockets, which ``exec`` uses, need it), so a client that would speak HTTP/2
(kubectl does when offered) gets the same server as everyone else.

A kubeconfig carries the certificates of the cert file as ``certificate-authority-data``.
For a certificate signed by a private CA, put the CA's certificate at the end of the cert
file (the full chain), and clients get it too.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
import ssl
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog

from minikubelet.errors import ConfigError
from minikubelet.rootdir import make_private_dir, write_private

__all__ = [
    "CERT_FILE",
    "KEY_FILE",
    "PKI_DIR",
    "SelfSigned",
    "TlsFiles",
    "TlsSource",
    "listener_names",
    "self_signed",
]

_log = structlog.get_logger("minikubelet.server.tls")

PKI_DIR = "pki"  # under the root dir, as the kubelet's --cert-dir is /var/lib/kubelet/pki
CERT_FILE = "minikubelet.crt"
KEY_FILE = "minikubelet.key"
VALIDITY = datetime.timedelta(days=365)  # certutil's maxAge for a self-signed pair
RENEW_BEFORE = datetime.timedelta(days=1)  # a pair closer than this to its end is replaced

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


class TlsSource(Protocol):
    """What the TCP listener needs of its TLS material."""

    def context(self) -> ssl.SSLContext:
        """A server context with the certificate and key loaded; ConfigError if it cannot."""
        ...

    def certificates(self) -> bytes:
        """The PEM certificates a client should trust (for a kubeconfig); never the key."""
        ...


def _server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


def _pem_certificates(text: bytes, where: Path) -> bytes:
    found = _PEM_CERTIFICATE.findall(text)
    if not found:
        raise ConfigError(f"{where}: no PEM certificate in the file")
    return b"\n".join(found) + b"\n"


@dataclass(frozen=True)
class TlsFiles:
    """The certificate (chain) and private key files the TCP listener serves HTTPS with."""

    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        """A server context with the two files loaded; ConfigError names the file at fault."""
        for path in (self.cert, self.key):
            try:
                mode = path.stat().st_mode
            except OSError as error:
                raise ConfigError(f"{path}: cannot read the file: {error.strerror}") from None
            if not stat.S_ISREG(mode):
                raise ConfigError(f"{path}: not a regular file")
        context = _server_context()
        try:
            context.load_cert_chain(certfile=self.cert, keyfile=self.key)
        except ssl.SSLError as error:
            raise ConfigError(
                f"{self.cert}, {self.key}: not a certificate and its private key: "
                f"{error.reason or error}"
            ) from None
        except OSError as error:
            raise ConfigError(
                f"{self.cert}, {self.key}: cannot load: {error.strerror or error}"
            ) from None
        return context

    def certificates(self) -> bytes:
        """The PEM certificates of the cert file, in its order (the key is never read here)."""
        try:
            text = self.cert.read_bytes()
        except OSError as error:
            raise ConfigError(f"{self.cert}: cannot read the file: {error.strerror}") from None
        return _pem_certificates(text, self.cert)

    def key_is_private(self) -> bool:
        """Whether only its owner may read the private key file (mode 0600 or stricter)."""
        return not stat.S_IMODE(self.key.stat().st_mode) & 0o077


@dataclass(frozen=True)
class SelfSigned:
    """A generated certificate chain and key, saved under ``directory`` or kept in memory."""

    cert_pem: bytes  # the serving certificate, then its CA's
    key_pem: bytes
    names: tuple[str, ...]  # the subject alternative names
    directory: Path | None = None  # None: never written to disk (``run``)

    def context(self) -> ssl.SSLContext:
        if self.directory is not None:
            return TlsFiles(self.directory / CERT_FILE, self.directory / KEY_FILE).context()
        context = _server_context()
        # ssl loads a chain from files only: a private temporary directory, gone at once.
        with tempfile.TemporaryDirectory(prefix="minikubelet-tls-") as scratch:
            cert, key = Path(scratch) / CERT_FILE, Path(scratch) / KEY_FILE
            write_private(cert, self.cert_pem)
            write_private(key, self.key_pem)
            context.load_cert_chain(cert, key)
        return context

    def certificates(self) -> bytes:
        return _pem_certificates(self.cert_pem, self.directory or Path(CERT_FILE))


def listener_names(address: str, hostname: str) -> tuple[str, ...]:
    """The names and addresses a client may reach a listener on ``address`` by."""
    names = ["localhost", hostname.lower(), "127.0.0.1", "::1"]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if ip is None or not ip.is_unspecified:
        names.append(str(ip) if ip is not None else address.lower())
    return tuple(dict.fromkeys(name for name in names if name))


def _split_names(names: Iterable[str]) -> tuple[list[str], list[str]]:
    dns, ips = [], []
    for name in names:
        try:
            ips.append(str(ipaddress.ip_address(name)))
        except ValueError:
            dns.append(name)
    return dns, ips


def _generate(names: Sequence[str], now: datetime.datetime, host: str) -> tuple[bytes, bytes]:
    """``certutil.GenerateSelfSignedCertKeyWithFixtures``: a CA, and a serving cert it signs.

    Returns (the serving certificate followed by the CA's, the serving key), PEM.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    stamp = int(now.timestamp())
    start = now - datetime.timedelta(minutes=5)  # a client clock slightly behind still agrees
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host}-ca@{stamp}")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    dns, ips = _split_names(names)
    alternatives: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    alternatives += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    serving = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host}@{stamp}")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    encoding = serialization.Encoding.PEM
    chain = serving.public_bytes(encoding) + ca.public_bytes(encoding)
    key_pem = key.private_bytes(
        encoding, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, key_pem


def _reusable(
    cert: Path, key: Path, names: Sequence[str], now: datetime.datetime
) -> tuple[bytes, bytes] | None:
    """The saved pair, if it loads, lasts more than a day and names every one of ``names``."""
    from cryptography import x509

    try:
        chain, key_pem = cert.read_bytes(), key.read_bytes()
    except OSError:
        return None
    try:
        _server_context().load_cert_chain(cert, key)
        serving = x509.load_pem_x509_certificate(chain)
        alternatives = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ssl.SSLError, OSError, ValueError, x509.ExtensionNotFound):
        return None
    if serving.not_valid_after_utc - RENEW_BEFORE <= now:
        return None
    dns, ips = _split_names(names)
    have_dns = {name.lower() for name in alternatives.value.get_values_for_type(x509.DNSName)}
    have_ips = {str(ip) for ip in alternatives.value.get_values_for_type(x509.IPAddress)}
    if not {name.lower() for name in dns} <= have_dns or not set(ips) <= have_ips:
        return None
    return chain, key_pem


def self_signed(
    directory: Path,
    names: Sequence[str],
    *,
    save: bool = True,
    now: datetime.datetime | None = None,
) -> SelfSigned:
    """The self-signed pair in ``directory`` (``<root-dir>/pki``), made when it is unusable.

    With ``save`` False (``run``, which shares the daemon's root dir but must not change
    it) a usable saved pair is still reused, and a new one is kept in memory only.
    Raises ConfigError when the directory cannot be created or written.
    """
    moment = now or datetime.datetime.now(datetime.UTC)
    cert, key = directory / CERT_FILE, directory / KEY_FILE
    found = _reusable(cert, key, names, moment)
    if found is not None:
        return SelfSigned(found[0], found[1], tuple(names), directory)
    host = names[1] if len(names) > 1 else "minikubelet"
    chain, key_pem = _generate(names, moment, host)
    if not save:
        return SelfSigned(chain, key_pem, tuple(names))
    try:
        make_private_dir(directory)
        # The key first: a certificate without its key is never left for the next start.
        write_private(key, key_pem)
        write_private(cert, chain)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(key)
        raise ConfigError(
            f"{directory}: cannot save the generated TLS certificate: {error.strerror or error}"
        ) from None
    _log.info("tls.certificate_generated", path=str(cert), names=list(names))
    return SelfSigned(chain, key_pem, tuple(names), directory)
