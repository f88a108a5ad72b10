"""The store contract over the local backend (a directory)."""

from __future__ import annotations

import pytest
from healthwatch.storage.local import LocalStore

from tests.contract.stores import StoreContract


class TestLocalStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path) -> LocalStore:
        return LocalStore(tmp_path / "data")
