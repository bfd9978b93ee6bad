"""The committed openapi.json is what the code generates: regenerate with `make openapi`."""

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from tests.shared.lambdas import ROOT, cold_start


@pytest.fixture
def api(aws: dict[str, str]) -> ModuleType:
    return cold_start("api")


def test_the_committed_openapi_document_matches_the_code(api: ModuleType) -> None:
    committed = json.loads((ROOT / "openapi.json").read_text())
    generated = json.loads(api.openapi_document())
    assert committed == generated, "openapi.json drifted from the code: run `make openapi`"


def test_the_document_is_valid_openapi_3_1(api: ModuleType) -> None:
    validate(json.loads(api.openapi_document()), cls=OpenAPIV31SpecValidator)


def references(node: Any) -> Iterator[str]:
    """Every `$ref` and discriminator mapping target in a document."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        if isinstance(node.get("discriminator"), dict):
            yield from node["discriminator"].get("mapping", {}).values()
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def test_every_reference_in_the_document_resolves(api: ModuleType) -> None:
    # The validator does not follow references: a dangling one would pass it.
    document = json.loads(api.openapi_document())
    dangling = []
    for reference in set(references(document)):
        node: Any = document
        for escaped in reference.removeprefix("#/").split("/"):
            part = escaped.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                dangling.append(reference)
                break
            node = node[part]
    assert dangling == []


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


def template_routes() -> list[Any]:
    from tools.template import load, routes

    return [route for route in routes(load()) if route.path != "$default"]


def test_every_route_of_the_template_is_in_the_document_with_its_authorizer(
    api: ModuleType,
) -> None:
    document = json.loads(api.openapi_document())
    for route in template_routes():
        method = route.method.lower()
        if route.path.startswith("/webhooks/"):
            operation = document["webhooks"][route.path.removeprefix("/webhooks/")][method]
        else:
            operation = document["paths"][route.path][method]
        # Public routes say so; the others inherit the document's JWT requirement.
        assert operation.get("security") == ([] if route.authorizer is None else None), route


def test_the_document_has_no_route_the_template_does_not_deploy(api: ModuleType) -> None:
    document = json.loads(api.openapi_document())
    deployed = {(r.method.lower(), r.path) for r in template_routes()}
    documented = {(m, path) for path, item in document["paths"].items() for m in item} | {
        (m, f"/webhooks/{name}") for name, item in document["webhooks"].items() for m in item
    }
    assert documented == deployed


def test_every_route_of_the_template_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for route in template_routes():
        assert f"`{route.method} {route.path}" in readme, route
