"""An SMTP server on 127.0.0.1 that speaks enough of RFC 5321 for a real client: EHLO,
STARTTLS (a certificate from the tests' CA), AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, QUIT.

It keeps every message it accepted, the credentials it was given, and whether TLS was on
when they were: what a test reads back.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.fakes.tls import make_leaf, shared_ca


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    tls: bool
    login: tuple[str, str] | None


@dataclass
class FakeSmtp:
    accounts: dict[str, str] = field(default_factory=dict)  # username -> password
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)  # user, password, tls

    def __post_init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="hw-smtp-"))
        ca_cert, _ = shared_ca()
        now = datetime.now(UTC)
        cert, key = make_leaf(
            sans=["127.0.0.1", "localhost"],
            not_before=now - timedelta(days=1),
            not_after=now + timedelta(days=30),
        )
        self.ca_file = str(self._dir / "ca.pem")
        Path(self.ca_file).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        (self._dir / "leaf.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (self._dir / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(self._dir / "leaf.pem", self._dir / "key.pem")
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self.port = self._sock.getsockname()[1]

    def __enter__(self) -> FakeSmtp:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        stream = conn.makefile("rwb")
        tls, login = False, None
        sender, recipients = "", []

        def say(line: str) -> None:
            stream.write(line.encode() + b"\r\n")
            stream.flush()

        with contextlib.suppress(OSError, ValueError):
            say("220 fake.smtp ESMTP ready")
            while True:
                raw = stream.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    extras = ["AUTH PLAIN LOGIN"] if tls else ["STARTTLS", "AUTH PLAIN LOGIN"]
                    for i, ext in enumerate(["fake.smtp", *extras]):
                        say(f"250{'-' if i < len(extras) else ' '}{ext}")
                elif verb == "STARTTLS":
                    say("220 go ahead")
                    stream.close()
                    conn = self._tls.wrap_socket(conn, server_side=True)
                    stream = conn.makefile("rwb")
                    tls = True
                elif verb == "AUTH":
                    parts = line.split(" ")
                    if parts[1].upper() == "PLAIN":
                        blob = parts[2] if len(parts) > 2 else self._ask(stream, "334 ")
                        _, user, password = base64.b64decode(blob).decode().split("\0")
                    else:
                        user = base64.b64decode(self._ask(stream, "334 VXNlcm5hbWU6")).decode()
                        password = base64.b64decode(self._ask(stream, "334 UGFzc3dvcmQ6")).decode()
                    self.logins.append((user, password, tls))
                    if self.accounts.get(user) == password:
                        login = (user, password)
                        say("235 2.7.0 Authentication successful")
                    else:
                        say("535 5.7.8 Authentication credentials invalid")
                elif verb == "MAIL":
                    if self.accounts and login is None:
                        say("530 5.7.0 Authentication required")
                        continue
                    sender, recipients = line.split(":", 1)[1].strip().strip("<>").split(">")[0], []
                    say("250 OK")
                elif verb == "RCPT":
                    recipients.append(line.split(":", 1)[1].strip().strip("<>"))
                    say("250 OK")
                elif verb == "DATA":
                    say("354 end with <CRLF>.<CRLF>")
                    data = b""
                    while (chunk := stream.readline()) not in (b".\r\n", b""):
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    message = message_from_bytes(data, policy=policy.default)
                    self.received.append(Received(sender, recipients, message, tls, login))  # type: ignore[arg-type]
                    say("250 OK queued")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("250 OK")

    @staticmethod
    def _ask(stream, prompt: str) -> str:  # type: ignore[no-untyped-def]
        stream.write(prompt.encode() + b"\r\n")
        stream.flush()
        return stream.readline().decode().strip()
