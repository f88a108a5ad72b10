"""Small builders shared by tests: configs from YAML text, results, a clock."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from healthwatch.config import Config
from healthwatch.models import AlertEvent, Result, iso
from healthwatch.runtime.config_source import parse_config


def config(yaml_text: str) -> Config:
    return parse_config(textwrap.dedent(yaml_text))


def result(
    check_id: str = "svc",
    status: str = "up",
    at: datetime | None = None,
    attempts: int = 1,
    error: str | None = None,
    tier: str = "quick",
) -> Result:
    at = at or datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    return Result(
        run_id=f"{tier}-x-0000",
        tier=tier,
        check_id=check_id,
        check_name=check_id,
        type="http",
        target="http://127.0.0.1/health",
        started_at=iso(at),
        status=status,  # type: ignore[arg-type]
        latency_ms=12.0,
        error=error if status == "down" or error else None,
        attempts=attempts,
    )


@dataclass
class Clock:
    """A settable `now` for code that takes one."""

    at: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class RecordingNotifier:
    name = "recording"

    def __init__(self) -> None:
        self.events: list[AlertEvent] = []

    def send(self, event: AlertEvent) -> None:
        self.events.append(event)


def command(config: Path, data_dir: Path, *args: str) -> list[str]:
    """`python -m healthwatch ARGS --config CONFIG --data-dir DATA_DIR`."""
    argv = [sys.executable, "-m", "healthwatch", *args, "--config", str(config)]
    return [*argv, "--data-dir", str(data_dir)]


def command_env(**extra: str) -> dict[str, str]:
    """This environment, on the local backend, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "HEALTHWATCH_BACKEND"}
    return {**env, **extra}


def healthwatch(
    config: Path,
    data_dir: Path,
    *args: str,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    **popen: Any,
) -> subprocess.CompletedProcess:
    """The real command in its own process, local backend, as a cron box runs it."""
    return subprocess.run(
        command(config, data_dir, *args),
        capture_output=True,
        text=True,
        env=command_env(**(env or {})),
        timeout=timeout,
        **popen,
    )


def call_probe(module: Any, check: Any, ctx: Any) -> Any:
    """One attempt of a probe module, as the engine makes it: an `async def` probe on an
    event loop with a real aiohttp session (the runtime's), a plain one directly."""
    import asyncio
    import inspect

    from healthwatch.runtime.clients import aio_session

    if not inspect.iscoroutinefunction(module.probe):
        return module.probe(check, ctx)

    async def attempt() -> Any:
        session = aio_session(8)
        ctx.http = lambda: session
        try:
            return await module.probe(check, ctx)
        finally:
            await session.close()

    return asyncio.run(attempt())
