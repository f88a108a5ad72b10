"""E-mail for the local backend: one message per alert through an SMTP server.

`notifications.email` in the config; on AWS, e-mail goes through the SNS topic's
subscription instead. The password is a secret reference, resolved at the first send and
never shown: a failure says what failed (connect, STARTTLS, login, a refused recipient)
with the server's code, not the credential.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from healthwatch.errors import DeliveryError, SecretError
from healthwatch.notify.email import body, subject

if TYPE_CHECKING:
    from healthwatch.models import AlertEvent
    from healthwatch.secrets import Secrets

SMTP_TIMEOUT_S = 10.0
SMTP_WORST_CASE_S = 4 * SMTP_TIMEOUT_S  # connect, STARTTLS, login, send: each bounded


class Options(BaseModel):
    """`notifications.email`: where the local backend's alert mail goes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    smtp_host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    sender: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None  # a secret reference: ${secret:...} or ${env:...}
    starttls: bool = True  # upgrade before logging in; false only for a relay on localhost
    ca_bundle: str | None = None  # trust this CA for the server's certificate

    @field_validator("to")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            if "@" not in value or any(c.isspace() for c in value):
                raise ValueError(f"not an e-mail address: {value!r}")
        return values


class SmtpNotifier:
    """A `Notifier`: `send` delivers one event as one message, or raises DeliveryError."""

    name = "email"
    worst_case_s = SMTP_WORST_CASE_S

    def __init__(self, options: Options, secrets: Secrets) -> None:
        self.options = options
        self.secrets = secrets

    def message(self, event: AlertEvent) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = subject(event)
        msg["From"] = self.options.sender
        msg["To"] = ", ".join(self.options.to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(idstring=event.id, domain="healthwatch")
        msg.set_content(body(event))
        return msg

    def send(self, event: AlertEvent) -> None:
        opts = self.options
        password = self._password()
        step = "connect"
        try:
            with smtplib.SMTP(opts.smtp_host, opts.port, timeout=SMTP_TIMEOUT_S) as smtp:
                smtp.ehlo()
                if opts.starttls:
                    step = "STARTTLS"
                    smtp.starttls(context=ssl.create_default_context(cafile=opts.ca_bundle))
                    smtp.ehlo()
                if opts.username:
                    step = "login"
                    smtp.login(opts.username, password or "")
                step = "send"
                smtp.send_message(self.message(event))
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"email: {step} refused ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"email: recipients refused: {', '.join(exc.recipients)}") from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"email: {step} failed ({type(exc).__name__})") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"email: STARTTLS failed ({exc.reason or 'TLS error'})") from None
        except TimeoutError:
            raise DeliveryError(f"email: {step} timed out after {SMTP_TIMEOUT_S:g}s") from None
        except OSError as exc:
            raise DeliveryError(
                f"email: {step} failed ({exc.strerror or type(exc).__name__})"
            ) from None

    def _password(self) -> str | None:
        if self.options.password is None:
            return None
        try:
            value = self.secrets.resolve(self.options.password)
        except SecretError as exc:
            raise DeliveryError(f"email: cannot resolve the password: {exc}") from None
        self.secrets.remember(value)
        return value
