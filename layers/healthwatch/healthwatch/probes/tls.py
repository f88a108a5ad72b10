"""`tls`: a host's certificate: days to expiry, issuer, hostname match, chain trust."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from healthwatch.durations import format_duration
from healthwatch.errors import ErrorKind, ProbeError, error_text
from healthwatch.models import iso
from healthwatch.probes import Category, Observation, ProbeContext, options
from healthwatch.records import Field, field_validator, model_validator

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from healthwatch.config import Check

CATEGORY = Category.SERVICE

# Gatus's own example; low enough for short-lived (6-day) certificates.
DEFAULT_CONDITIONS = ("[CERTIFICATE_EXPIRATION] > 48h",)
MAX_SANS = 20


@options
class Options:
    host: str
    port: int = Field(443, ge=1, le=65535)
    server_name: str | None = None  # SNI and the name the certificate must match; default host
    ca_bundle: str | None = None  # PEM file of trusted CAs (a private CA); default certifi's
    verify: bool = True  # false: report expiry and names without judging the chain

    @model_validator(mode="before")
    @classmethod
    def _from_url(cls, data: Any) -> Any:
        """Accept `host: https://example.com:8443/x` as well as a bare host name."""
        if isinstance(data, dict) and isinstance(data.get("host"), str) and "://" in data["host"]:
            parts = urlsplit(data["host"])
            data = dict(data, host=parts.hostname or "")
            if parts.port and "port" not in data:
                data["port"] = parts.port
        return data

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip().strip("[]")
        if not value or any(ch in value for ch in "/ "):
            raise ValueError(f"expected a host name or IP address, got {value!r}")
        return value


@dataclass(frozen=True)
class CertificateInfo:
    """The leaf certificate a server presented, and whether it can be trusted for its name."""

    host: str
    port: int
    server_name: str
    ip: str | None
    not_before: datetime
    not_after: datetime
    issuer: str
    subject: str
    sans: tuple[str, ...]
    hostname_match: bool
    verified: bool | None  # None: verification was not asked for
    verify_error: str | None
    serial: str
    fingerprint_sha256: str
    tls_version: str | None
    handshake_ms: float

    @property
    def days_left(self) -> float:
        return self.seconds_left() / 86400

    @property
    def expired(self) -> bool:
        return self.seconds_left() <= 0

    def seconds_left(self, now: datetime | None = None) -> float:
        return (self.not_after - (now or datetime.now(UTC))).total_seconds()

    def problem(self, now: datetime | None = None) -> str | None:
        """Why a client would refuse this certificate, most actionable first; None if none."""
        now = now or datetime.now(UTC)
        left = self.seconds_left(now)
        if left <= 0:
            return (
                f"certificate expired {format_duration(-left)} ago "
                f"(not after {iso(self.not_after)})"
            )
        if now < self.not_before:
            return f"certificate not valid before {iso(self.not_before)}"
        if not self.hostname_match:
            names = ", ".join(self.sans[:5]) or self.subject or "no names"
            return f"hostname mismatch: the certificate is for {names}, not {self.server_name}"
        if self.verified is False:
            return f"certificate not trusted ({self.verify_error or 'verification failed'})"
        return None

    def details(self, now: datetime | None = None) -> dict[str, Any]:
        """What a person needs to act on it, JSON-ready."""
        return {
            "host": self.host,
            "port": self.port,
            "server_name": self.server_name,
            "ip": self.ip,
            "issuer": self.issuer,
            "subject": self.subject,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "days_left": round(self.seconds_left(now) / 86400, 1),
            "sans": list(self.sans[:MAX_SANS]),
            "hostname_match": self.hostname_match,
            "verified": self.verified,
            "verify_error": self.verify_error,
            "tls_version": self.tls_version,
            "serial": self.serial,
            "fingerprint_sha256": self.fingerprint_sha256,
        }


def target(options: Options) -> str:
    host = f"[{options.host}]" if ":" in options.host else options.host
    return f"tls://{host}:{options.port}"


def probe(check: Check, ctx: ProbeContext) -> Observation:
    """Handshake, read the certificate; down when a client would refuse it."""
    opts: Options = check.options
    now = ctx.now()
    info = fetch_certificate(
        opts.host,
        opts.port,
        timeout=ctx.timeout,
        server_name=opts.server_name,
        ca_bundle=opts.ca_bundle,
        verify=opts.verify,
    )
    details = info.details(now)
    problem = info.problem(now)
    left = info.seconds_left(now)
    details["summary"] = problem or (
        f"valid for {_span(left)} (until {iso(info.not_after)}), issued by {info.issuer}"
    )
    return Observation(
        latency_ms=info.handshake_ms,
        connected=True,
        ip=info.ip,
        certificate_expiration_ms=left * 1000,
        verdict="down" if problem else None,
        error=error_text(ErrorKind.TLS, problem) if problem else None,
        details=details,
        default_conditions=DEFAULT_CONDITIONS,
    )


def fetch_certificate(
    host: str,
    port: int = 443,
    *,
    timeout: float,
    server_name: str | None = None,
    ca_bundle: str | None = None,
    verify: bool = True,
) -> CertificateInfo:
    """The certificate `host:port` presents for `server_name` (default `host`).

    An expired, untrusted or mismatched certificate is still returned, with
    `verified`, `verify_error` and `hostname_match` saying what is wrong; only a
    failure to connect or to complete a handshake at all raises `ProbeError`
    (`dns`, `connection_refused`, `timeout`, `unreachable`, `tls`, ...).
    """
    name = server_name or host
    deadline = time.monotonic() + timeout
    verified: bool | None = None
    verify_error: str | None = None
    seen: tuple[bytes, str | None, str | None] | None = None
    start = time.perf_counter()
    if verify:
        context = _verifying_context(ca_bundle)
        try:
            seen = _handshake(host, port, name, context, deadline)
            verified = True
        except ssl.SSLCertVerificationError as exc:
            # The handshake stops at the failure; a second one, unverified, reads the cert.
            verified = False
            verify_error = str(exc.verify_message or exc.reason or "verification failed")
    handshake_ms = round((time.perf_counter() - start) * 1000, 1)
    if seen is None:
        seen = _handshake(host, port, name, _reading_context(), deadline)
        if not verify:
            handshake_ms = round((time.perf_counter() - start) * 1000, 1)
    der, ip, version = seen
    return _describe(der, host, port, name, ip, version, verified, verify_error, handshake_ms)


def _verifying_context(ca_bundle: str | None) -> ssl.SSLContext:
    cafile = ca_bundle
    if cafile is None:
        try:
            import certifi  # what requests trusts, so `tls` and `http` checks agree

            cafile = certifi.where()
        except ImportError:  # pragma: no cover - requests depends on certifi
            cafile = None
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ProbeError(
            "tls", f"cannot load the CA bundle {cafile!r} ({exc.__class__.__name__})"
        ) from None
    context.check_hostname = False  # the name is checked separately, to report a mismatch
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _reading_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read the certificate it presents
    return context


def _handshake(
    host: str, port: int, name: str, context: ssl.SSLContext, deadline: float
) -> tuple[bytes, str | None, str | None]:
    try:
        sock = socket.create_connection((host, port), timeout=_left(deadline))
    except socket.gaierror:
        raise ProbeError(ErrorKind.DNS, f"host name {host!r} could not be resolved") from None
    except ConnectionRefusedError:
        raise ProbeError(
            ErrorKind.CONNECTION_REFUSED, f"{host}:{port} refused the connection"
        ) from None
    except TimeoutError:
        raise ProbeError(ErrorKind.TIMEOUT, f"no connection to {host}:{port} in time") from None
    except OSError as exc:
        raise ProbeError(
            "unreachable", f"{host}:{port}: {exc.strerror or type(exc).__name__}"
        ) from None
    try:
        ip = str(sock.getpeername()[0])
        sock.settimeout(_left(deadline))
        sni = None if _is_ip(name) else name
        with context.wrap_socket(sock, server_hostname=sni) as tls:
            der = tls.getpeercert(binary_form=True)
            version = tls.version()
    except ssl.SSLCertVerificationError:
        raise
    except TimeoutError:
        raise ProbeError(
            ErrorKind.TIMEOUT, f"no TLS handshake with {host}:{port} in time"
        ) from None
    except ssl.SSLError as exc:
        raise ProbeError(
            ErrorKind.TLS, f"handshake with {host}:{port} failed ({_reason(exc)})"
        ) from None
    except OSError as exc:
        raise ProbeError(
            "connection_reset",
            f"{host}:{port} closed the connection during the handshake"
            f" ({exc.strerror or type(exc).__name__})",
        ) from None
    finally:
        sock.close()
    if not der:
        raise ProbeError(ErrorKind.TLS, f"{host}:{port} presented no certificate")
    return der, ip, version


def _describe(
    der: bytes,
    host: str,
    port: int,
    name: str,
    ip: str | None,
    version: str | None,
    verified: bool | None,
    verify_error: str | None,
    handshake_ms: float,
) -> CertificateInfo:
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise ProbeError(
            "tls", f"{host}:{port} presented a certificate that cannot be parsed"
        ) from None
    sans = _sans(cert)
    return CertificateInfo(
        host=host,
        port=port,
        server_name=name,
        ip=ip,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        issuer=cert.issuer.rfc4514_string(),
        subject=cert.subject.rfc4514_string(),
        sans=tuple(sans),
        hostname_match=hostname_matches(name, sans),
        verified=verified,
        verify_error=verify_error,
        serial=format(cert.serial_number, "x"),
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        tls_version=version,
        handshake_ms=handshake_ms,
    )


def _sans(cert: Certificate) -> list[str]:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = [str(n) for n in ext.get_values_for_type(x509.DNSName)]
    names += [str(a) for a in ext.get_values_for_type(x509.IPAddress)]
    return names


def hostname_matches(name: str, sans: list[str] | tuple[str, ...]) -> bool:
    """RFC 6125 matching against the SANs (no common-name fallback, as browsers do)."""
    if _is_ip(name):
        wanted = ipaddress.ip_address(name.strip("[]"))
        for san in sans:
            try:
                if ipaddress.ip_address(san) == wanted:
                    return True
            except ValueError:
                continue
        return False
    host = name.rstrip(".").lower()
    for san in sans:
        pattern = san.rstrip(".").lower()
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == pattern[2:] and "." in rest:
                return True
    return False


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _span(seconds: float) -> str:
    """`30 days` from two days on (a certificate's life is counted in days), else `1d 5h`."""
    return f"{seconds / 86400:.0f} days" if seconds >= 2 * 86400 else format_duration(seconds)


def _left(deadline: float) -> float:
    return max(0.05, deadline - time.monotonic())


def _reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None)
    if reason == "WRONG_VERSION_NUMBER":
        return "the server does not speak TLS on this port"
    return str(reason or type(exc).__name__).lower().replace("_", " ")
