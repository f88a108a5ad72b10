"""One exception tree for the package, and the error classes a result record may carry."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from healthwatch.models import TierRun


class ErrorKind(StrEnum):
    """The short class that starts a result's `error` (`timeout: no answer within 5s`).

    A `StrEnum`, so a kind is written into a record as its plain text and read back equal.
    """

    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    CONNECTION_ERROR = "connection_error"
    UNREACHABLE = "unreachable"
    DNS = "dns"
    TLS = "tls"
    PROTOCOL_ERROR = "protocol_error"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    INVALID_URL = "invalid_url"
    INVALID_JSON = "invalid_json"
    BODY_TOO_LARGE = "body_too_large"
    DECODE_ERROR = "decode_error"
    HTTP_ERROR = "http_error"
    AUTH = "auth"
    CREDENTIALS = "credentials"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    QUOTA = "quota"
    FORBIDDEN = "forbidden"
    SUSPENDED = "suspended"
    HEALTH = "health"
    CONFIG = "config"
    SECRET = "secret"
    CONDITION_FAILED = "condition_failed"
    PROBE_ERROR = "probe_error"  # reserved for a probe's own bug


def error_text(kind: ErrorKind | str, message: str) -> str:
    """`kind: message`, the result record's `error`."""
    return f"{kind}: {message}"


class HealthwatchError(Exception):
    """The base of every error this package raises on purpose."""


class UsageError(HealthwatchError):
    """The command was asked for something that cannot be done (exit 2)."""


class ConfigError(HealthwatchError):
    """An invalid config. `errors` holds one line per problem, each naming its field."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: invalid config\n" + "\n".join(f"  - {e}" for e in errors))


class ConditionError(HealthwatchError, ValueError):
    """A condition that does not parse. A ValueError too, so pydantic reports it as a field's."""


class UnknownTierError(HealthwatchError, ValueError):
    """An event names no tier this function runs."""


class SecretError(HealthwatchError):
    """A reference could not be resolved. The message names the reference, never a value."""


class ProbeError(HealthwatchError):
    """The probe itself failed; `kind` is the short error class of the result record."""

    def __init__(self, kind: ErrorKind | str, message: str) -> None:
        super().__init__(error_text(kind, message))
        self.kind = kind
        self.message = message


class StoreError(HealthwatchError):
    """A store could not do what was asked (after its own retries)."""


class ConflictError(StoreError):
    """Another run wrote the state first: reload and decide again."""


class DeliveryError(HealthwatchError):
    """A delivery that still failed after its retries. Never swallowed: raised or queued."""


class InvokeError(HealthwatchError):
    """A Lambda invocation (a shard, a probe region) that was refused, failed or timed out."""


class RunError(HealthwatchError):
    """The checks ran and their results were kept where possible, but something could not be
    stored or sent. `run` is what the run produced; `problems` says what went wrong."""

    def __init__(self, run: TierRun, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.run = run
        self.problems = problems
