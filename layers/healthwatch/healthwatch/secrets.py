"""Secret references (`${secret:N}`, `${ssm:/p}`, `${env:N}`): resolved late, cached, redacted."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from healthwatch.errors import SecretError

REFERENCE = re.compile(r"\$\{(secret|ssm|env):([^}]+)\}")
REDACTED = "***"


class SecretSource(Protocol):
    """Looks up one kind of reference (`secret` or `ssm`); AWS adapters implement this."""

    def get(self, name: str) -> str: ...


class EnvSource:
    """`${env:NAME}`: the process environment (or a mapping given in tests)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, name: str) -> str:
        try:
            return self._environ[name]
        except KeyError:
            raise SecretError(f"environment variable {name} is not set") from None


class LocalSecretSource:
    """`${secret:a/b}` / `${ssm:/a/b}` without AWS: the variable HW_SECRET_A_B (local backend)."""

    def __init__(self, kind: str, environ: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self._environ = os.environ if environ is None else environ

    @staticmethod
    def variable(name: str) -> str:
        return "HW_SECRET_" + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()

    def get(self, name: str) -> str:
        var = self.variable(name)
        try:
            return self._environ[var]
        except KeyError:
            raise SecretError(
                f"set {var} for {self.kind} {name!r} (the local backend reads secrets "
                "from the environment; --backend aws reads AWS)"
            ) from None


class Secrets:
    """Resolves references in config strings and remembers every value it handed out.

    The remembered values are what `redact` removes from anything about to be stored,
    logged or sent: the last line of defence against a token echoed in an error body.
    """

    def __init__(self, sources: Mapping[str, SecretSource]) -> None:
        self._sources = dict(sources)
        self._cache: dict[tuple[str, str], str] = {}
        self._values: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def local(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        return cls(
            {
                "env": EnvSource(environ),
                "secret": LocalSecretSource("secret", environ),
                "ssm": LocalSecretSource("ssm parameter", environ),
            }
        )

    def lookup(self, kind: str, name: str) -> str:
        key = (kind, name)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        source = self._sources.get(kind)
        if source is None:
            raise SecretError(f"no resolver for ${{{kind}:...}} references")
        try:
            value = source.get(name)
        except SecretError:
            raise
        except Exception as exc:  # a provider error must not carry the value or its own text
            raise SecretError(f"{kind} {name!r} could not be read ({type(exc).__name__})") from None
        with self._lock:
            self._cache[key] = value
            if len(value) >= 4:
                self._values.add(value)
        return value

    def resolve(self, text: str) -> str:
        """`text` with every reference replaced by its value."""
        if "${" not in text:
            return text
        return REFERENCE.sub(lambda m: self.lookup(m.group(1), m.group(2).strip()), text)

    def resolve_obj(self, obj: Any) -> Any:
        return _walk(obj, self.resolve)

    def remember(self, value: str) -> None:
        """Treat `value` as a secret too (a token a vendor returned, a webhook URL).

        For a URL, its path and last segment count too: HTTP libraries log the path alone,
        and a Slack or Discord webhook's path is its token.
        """
        if not value or len(value) < 4:
            return
        parts = [value]
        if value.startswith(("http://", "https://")):
            from urllib.parse import urlsplit

            url = urlsplit(value)
            if len(url.path) > 1:
                parts.append(url.path + (f"?{url.query}" if url.query else ""))
                parts.append(url.path)
                last = url.path.rstrip("/").rsplit("/", 1)[-1]
                if len(last) >= 4:
                    parts.append(last)
        with self._lock:
            self._values.update(parts)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def knows_any(self) -> bool:
        """Whether any secret value was resolved or remembered: nothing to redact otherwise."""
        return bool(self._values)

    def redact_obj(self, obj: Any) -> Any:
        if not self._values:
            return obj
        return _walk(obj, self.redact)


_ANY_REFERENCE = re.compile(r"\$\{([^}]*)(\}?)")
_NAMES = {
    "env": re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$"),
    "secret": re.compile(r"^[A-Za-z0-9/_+=.@!-]+$"),
    "ssm": re.compile(r"^/?[A-Za-z0-9/_.-]+$"),
}


def reference_problems(text: str) -> list[str]:
    """What is wrong with each `${...}` in `text` (empty when every one is well-formed)."""
    problems = []
    for match in _ANY_REFERENCE.finditer(text):
        body, closed = match.group(1), match.group(2)
        shown = match.group(0)[:60]
        kind, colon, name = body.partition(":")
        if not closed:
            problems.append(f"unterminated reference {shown!r}: close it with }}")
        elif kind not in _NAMES or not colon:
            use = "${secret:NAME}, ${ssm:/path} or ${env:NAME}"
            problems.append(f"unknown reference {shown!r}: use {use}")
        elif not name.strip():
            problems.append(f"empty reference {shown!r}: name the {kind} to read")
        elif not _NAMES[kind].match(name.strip()):
            problems.append(f"invalid {kind} name in {shown!r}")
    return problems


def has_reference(text: str) -> bool:
    return bool(REFERENCE.search(text))


def _walk(obj: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _walk(v, fn) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_walk(v, fn) for v in obj]
    return obj


class RedactingFilter:
    """A logging filter that scrubs every secret the run resolved from each record.

    Libraries log what they were given (urllib3 logs request paths, and a Slack webhook
    path is its token), so the scrub happens where records leave, not where they start.
    """

    def __init__(self, secrets: Secrets) -> None:
        self._secrets = secrets

    def filter(self, record: object) -> bool:
        import logging

        assert isinstance(record, logging.LogRecord)
        message = record.getMessage()
        clean = self._secrets.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
