"""The committed openapi.json is what the code generates: regenerate with `make openapi`."""

import json
from types import ModuleType

import pytest

from tests.lambdas import ROOT, cold_start


@pytest.fixture
def api(aws: dict[str, str]) -> ModuleType:
    return cold_start("api")


def test_the_committed_openapi_document_matches_the_code(api: ModuleType) -> None:
    committed = json.loads((ROOT / "openapi.json").read_text())
    generated = json.loads(api.openapi_document())
    assert committed == generated, "openapi.json drifted from the code: run `make openapi`"


def test_every_documented_route_is_in_the_contract(api: ModuleType) -> None:
    paths = json.loads(api.openapi_document())["paths"]
    assert set(paths) >= {"/transactions", "/transactions/{id}"}
    parameters = {p["name"] for p in paths["/transactions"]["get"]["parameters"]}
    assert parameters == {
        "status",
        "type",
        "method",
        "account_holder_id",
        "q",
        "from",
        "to",
        "min_amount",
        "max_amount",
        "limit",
        "cursor",
    }
