"""The local gateway's reading of a request target and its gateway-level errors
(local/gateway.py, docs/local-gateway.md)."""

import json

import pytest

from local import gateway


def as_http_server_gives_it(raw: bytes) -> str:
    """http.server decodes the request line as Latin-1."""
    return raw.decode("latin-1")


def test_a_raw_utf8_query_is_read_as_utf8() -> None:
    target = gateway.Target.of(as_http_server_gives_it("/transactions?q=ELOÏSE".encode()))
    assert target.parameters == [("q", "ELOÏSE")]
    assert target.query == "q=ELOÏSE"


def test_a_percent_encoded_path_is_decoded_as_utf8() -> None:
    target = gateway.Target.of("/transactions/%C3%A9t%C3%A9")
    assert target.path == "/transactions/%C3%A9t%C3%A9"  # rawPath keeps the encoding
    assert target.decoded_path() == "/transactions/été"


@pytest.mark.parametrize("raw", [b"/t?q=\xff", b"/t?q=%FF", b"/%C3/x"])
def test_a_target_that_is_not_utf8_is_refused(raw: bytes) -> None:
    with pytest.raises(UnicodeDecodeError):
        gateway.Target.of(as_http_server_gives_it(raw))


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (413, {"message": "Request Entity Too Large", "code": "payload_too_large"}),
        (414, {"message": "URI Too Long", "code": "uri_too_long"}),
        (431, {"message": "Request Header Fields Too Large",
               "code": "request_header_fields_too_large"}),
        (505, {"message": "HTTP Version Not Supported", "code": "http_version_not_supported"}),
    ],
)  # fmt: skip
def test_every_gateway_level_error_has_a_message_and_a_code(
    status: int, body: dict[str, str]
) -> None:
    response = gateway.gateway_error(status)
    assert response.status == status
    assert json.loads(response.body) == body
