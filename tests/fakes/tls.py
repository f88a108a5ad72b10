"""A loopback HTTPS server with certificates made at test time: a test CA and a leaf.

    with TlsServer(days_valid=30) as srv:          # trusted via srv.ca_file
        srv.route("GET", "/health", Response(200, {"status": "ok"}))
        requests.get(srv.url + "/health", verify=srv.ca_file)

`expired=True`, `not_yet_valid=True`, a small `days_valid`, a `hostname` other than
localhost (a mismatch for 127.0.0.1) or `self_signed=True` (no CA behind it) make the
broken certificates probes must report. It is a `FakeServer`, so routes work as usual.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fakes.server import FakeServer, Handler

_CA: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None


def shared_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """One CA per test process (EC keys are cheap, but there is no need for more)."""
    global _CA
    if _CA is None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "healthwatch tests"),
                x509.NameAttribute(NameOID.COMMON_NAME, "healthwatch test CA"),
            ]
        )
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        _CA = (cert, key)
    return _CA


def make_leaf(
    *,
    sans: Sequence[str],
    not_before: datetime,
    not_after: datetime,
    self_signed: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A server certificate for `sans` (DNS names or IP addresses)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sans[0] if sans else "leaf")])
    names: list[x509.GeneralName] = []
    for san in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            names.append(x509.DNSName(san))
    if self_signed:
        issuer_name, signing_key = subject, key
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    else:
        ca_cert, ca_key = shared_ca()
        issuer_name, signing_key = ca_cert.subject, ca_key
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(authority, critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signing_key, hashes.SHA256()), key


class TlsServer(FakeServer):
    """HTTPS on 127.0.0.1 with a fresh leaf certificate; `.port`, `.url`, `.ca_file`.

    - `days_valid`: days from now until the certificate expires;
    - `expired`: it expired yesterday (`not_yet_valid`: it starts tomorrow);
    - `hostname`: the name it is for; `sans` overrides the whole list (default:
      `localhost` and `127.0.0.1` for `localhost`, else just `hostname`);
    - `self_signed`: not issued by the test CA, so `ca_file` does not vouch for it.
    """

    def __init__(
        self,
        days_valid: float = 30,
        hostname: str = "localhost",
        *,
        expired: bool = False,
        not_yet_valid: bool = False,
        self_signed: bool = False,
        sans: Sequence[str] | None = None,
        fallback: Handler | None = None,
    ) -> None:
        super().__init__(fallback)
        now = datetime.now(UTC)
        if expired:
            not_before, not_after = now - timedelta(days=90), now - timedelta(days=1)
        elif not_yet_valid:
            not_before, not_after = now + timedelta(days=1), now + timedelta(days=91)
        else:
            not_before, not_after = now - timedelta(days=1), now + timedelta(days=days_valid)
        if sans is None:
            sans = ("localhost", "127.0.0.1") if hostname == "localhost" else (hostname,)
        self.hostname = hostname
        self.sans = tuple(sans)
        self.certificate, key = make_leaf(
            sans=self.sans, not_before=not_before, not_after=not_after, self_signed=self_signed
        )
        self.not_before = self.certificate.not_valid_before_utc
        self.not_after = self.certificate.not_valid_after_utc
        self._dir = Path(tempfile.mkdtemp(prefix="hw-tls-"))
        self.ca_file = str(self._dir / "ca.pem")
        self.cert_file = str(self._dir / "leaf.pem")
        self.key_file = str(self._dir / "leaf.key")
        ca_cert, _ = shared_ca()
        Path(self.ca_file).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        Path(self.cert_file).write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        Path(self.key_file).write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(self.cert_file, self.key_file)

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start the server first"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> TlsServer:
        super().start()
        assert self._httpd is not None
        # Before any client can know the port: the serving loop accepts through TLS from here.
        self._httpd.socket = self._context.wrap_socket(self._httpd.socket, server_side=True)
        # A client that hangs up mid-handshake (as a verifying probe does) is not an error.
        self._httpd.handle_error = _quiet  # type: ignore[method-assign,assignment]
        return self

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> TlsServer:
        return self.start()


def _quiet(*args: Any) -> None:
    return None
