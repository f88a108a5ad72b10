"""The probe contract over every registered probe type."""

from __future__ import annotations

import pytest
from healthwatch import probes

from tests.contract.probes import CredentialProbeContract, ProbeContract, takes_credential
from tests.fakes.raw import closed_port


class TestEveryProbeType(ProbeContract):
    @pytest.fixture(params=probes.known_types())
    def probe_type(self, request) -> str:
        return request.param

    @pytest.fixture
    def refused_port(self) -> int:
        return closed_port()


class TestEveryProbeTypeWithACredential(CredentialProbeContract):
    @pytest.fixture(params=[t for t in probes.known_types() if takes_credential(t)])
    def probe_type(self, request) -> str:
        return request.param

    @pytest.fixture
    def refused_port(self) -> int:
        return closed_port()
