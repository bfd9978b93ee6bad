import pytest

from tests.shared.fakes import InMemoryEntryStore
from tests.shared.store_contract import StoreContract


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> InMemoryEntryStore:
        return InMemoryEntryStore()
