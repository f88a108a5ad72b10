"""Fixtures every suite shares: one moto server per test session (per xdist worker), the
stack of template.yaml created in it, and the environment that points boto3 at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.moto_server import MotoServer, Stack, deploy_stack


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(moto_server: MotoServer) -> Stack:
    """template.yaml, translated offline and created with CloudFormation in moto."""
    return deploy_stack(moto_server, "healthwatch")


@pytest.fixture
def aws_env(
    moto_server: MotoServer, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The functions' environment, every client pointed at the moto server."""
    from healthwatch.runtime import clients

    env = {**moto_server.env(), **stack.env()}
    for name in ("HEALTHWATCH_TIERS", "HEALTHWATCH_STACK", "CHECKS_CONFIG", "HEALTHWATCH_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(clients, "_session", None)  # a session made under other variables
    return env
