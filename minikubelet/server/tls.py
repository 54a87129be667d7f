"""TLS for the TCP listener: the kubelet's ``tlsCertFile`` and ``tlsPrivateKeyFile``.

    TlsFiles(cert, key)      the two files; ``context()`` loads them (ConfigError if it cannot)
    TlsFiles.certificates()  the PEM certificates of the cert file, for a kubeconfig

The context is a server context with the library's secure defaults (certificate
verification of clients off: clients authenticate with the bearer token), TLS 1.2 at
least, and HTTP/1.1 offered through ALPN: the API is served over HTTP/1.1 on both
transports, so a client that would speak HTTP/2 (kubectl does when offered) gets the same
server as everyone else.

A kubeconfig carries the certificates of the cert file as ``certificate-authority-data``.
For a self-signed certificate (the usual case for a local daemon) that is the whole trust
a client needs; for a certificate signed by a private CA, put the CA's certificate at the
end of the cert file (the full chain), and clients get it too.
"""

from __future__ import annotations

import re
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from minikubelet.errors import ConfigError

__all__ = ["TlsFiles"]

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


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
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
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
        found = _PEM_CERTIFICATE.findall(text)
        if not found:
            raise ConfigError(f"{self.cert}: no PEM certificate in the file")
        return b"\n".join(found) + b"\n"

    def key_is_private(self) -> bool:
        """Whether only its owner may read the private key file (mode 0600 or stricter)."""
        return not stat.S_IMODE(self.key.stat().st_mode) & 0o077
