"""The self-signed certificate of the TCP listener: made once, reused, renewed, private."""

from __future__ import annotations

import datetime
import ssl
import stat
from pathlib import Path

from cryptography import x509

from minikubelet.server.tls import CERT_FILE, KEY_FILE, listener_names, self_signed

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def test_names_of_a_listener() -> None:
    assert listener_names("127.0.0.1", "Box") == ("localhost", "box", "127.0.0.1", "::1")
    assert listener_names("0.0.0.0", "box") == ("localhost", "box", "127.0.0.1", "::1")
    assert listener_names("192.0.2.7", "box")[-1] == "192.0.2.7"


def test_made_once_then_reused(tmp_path: Path) -> None:
    names = listener_names("127.0.0.1", "box")
    first = self_signed(tmp_path / "pki", names, now=NOW)
    assert stat.S_IMODE((tmp_path / "pki").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "pki" / KEY_FILE).stat().st_mode) == 0o600
    again = self_signed(tmp_path / "pki", names, now=NOW + datetime.timedelta(days=100))
    assert again.cert_pem == first.cert_pem
    serving, ca = x509.load_pem_x509_certificates(first.certificates())
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "box"}
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert serving.issuer == ca.subject
    assert b"PRIVATE KEY" not in first.certificates()
    # The pair verifies as a client would verify it: the certificates as the trust.
    client = ssl.create_default_context(cadata=first.certificates().decode())
    assert client.verify_mode is ssl.CERT_REQUIRED


def test_renewed_near_its_end_or_for_a_new_address(tmp_path: Path) -> None:
    names = listener_names("127.0.0.1", "box")
    first = self_signed(tmp_path / "pki", names, now=NOW)
    late = self_signed(tmp_path / "pki", names, now=NOW + datetime.timedelta(days=364, hours=12))
    assert late.cert_pem != first.cert_pem
    moved = self_signed(tmp_path / "pki", listener_names("192.0.2.7", "box"), now=NOW)
    assert moved.cert_pem != late.cert_pem
    (tmp_path / "pki" / CERT_FILE).write_text("damaged\n")
    repaired = self_signed(tmp_path / "pki", names, now=NOW)
    assert repaired.cert_pem != moved.cert_pem
    assert (tmp_path / "pki" / CERT_FILE).read_bytes() == repaired.cert_pem


def test_in_memory_only_when_it_may_not_be_saved(tmp_path: Path) -> None:
    names = listener_names("127.0.0.1", "box")
    kept = self_signed(tmp_path / "pki", names, save=False, now=NOW)
    assert not (tmp_path / "pki").exists()
    assert kept.directory is None
    kept.context()  # loads, through a private temporary directory
    saved = self_signed(tmp_path / "pki", names, now=NOW)
    assert self_signed(tmp_path / "pki", names, save=False, now=NOW).cert_pem == saved.cert_pem
