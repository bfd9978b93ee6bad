import pytest

from tests.fakes import InMemoryEntryStore
from tests.store_contract import StoreContract


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> InMemoryEntryStore:
        return InMemoryEntryStore()
