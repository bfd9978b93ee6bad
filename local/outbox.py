"""GET /_local/outbox: every email SES (the moto server) accepted, oldest first.

moto keeps sent emails in its process's memory only, so the moto server's process serves them
itself (local/moto_server.py adds the route OUTBOX_PATH to moto's app) and the gateway's
/_local/outbox forwards to it (`fetch`).

A message reads {"to": [bare addresses], "subject", "html", "text"}: with SES v2 `Content.Raw`
(and SES v1 `send_raw_email`) moto keeps the whole MIME message, parsed here: the To header's
addresses, the decoded Subject, the text/plain and text/html bodies decoded (line ends as "\\n").
A part the message lacks is null. With `Content.Simple` moto keeps one body only (the Html if
given, else the Text): it is listed as html when it holds HTML tags, else as text. Templated sends
are not listed (moto does not render SES templates).
"""

import email
import email.policy
import json
import re
import urllib.request
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

OUTBOX_PATH = "/_local/outbox"

type OutboxMessage = dict[str, Any]

_HTML_TAG = re.compile(r"<[A-Za-z][^>]*>")


def bare_addresses(values: Iterable[str]) -> list[str]:
    """["Zoé <zoe@example.com>", "a@b.c, d@e.f"] -> ["zoe@example.com", "a@b.c", "d@e.f"]
    (each address once, in order)."""
    found = [address for _, address in getaddresses([str(v) for v in values]) if address]
    return list(dict.fromkeys(found))


def _text(content: str | None) -> str | None:
    return None if content is None else content.replace("\r\n", "\n")


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    return _text(content if isinstance(content, str) else content.decode(errors="replace"))


def raw_message(raw: str, envelope: Iterable[str] = ()) -> OutboxMessage:
    """A MIME message as the outbox lists it; `envelope`: the recipients SES was given, used when
    the message has no To header."""
    # moto decoded the message's bytes as UTF-8: back to those bytes, so that 8bit parts decode.
    data = raw.encode("utf-8", errors="surrogateescape")
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    to = bare_addresses(message.get_all("to") or [])
    subject = message.get("subject")
    return {
        "to": to or bare_addresses(envelope),
        "subject": None if subject is None else str(subject),
        "html": _body(message, "html"),
        "text": _body(message, "plain"),
    }


def simple_message(destinations: Any, subject: str, body: str) -> OutboxMessage:
    """A message moto kept from SES `Content.Simple` (or v1 send_email): one body only."""
    to = destinations.get("ToAddresses") or [] if isinstance(destinations, dict) else destinations
    is_html = bool(_HTML_TAG.search(body or ""))
    return {
        "to": bare_addresses(to or []),
        "subject": subject,
        "html": _text(body) if is_html else None,
        "text": None if is_html else _text(body),
    }


def outbox_message(sent: Any) -> OutboxMessage | None:
    """One of moto's `sent_messages` as the outbox lists it; None for one it cannot list."""
    envelope = getattr(sent, "destinations", None) or []
    if hasattr(sent, "raw_data"):  # moto.ses.models.RawMessage
        try:
            return raw_message(sent.raw_data, envelope if isinstance(envelope, list) else [])
        except Exception as error:  # a message SES accepted but the parser chokes on: shown raw
            return {
                "to": bare_addresses(envelope if isinstance(envelope, list) else []),
                "subject": None,
                "html": None,
                "text": f"(unparsable MIME message: {error})\n{sent.raw_data}",
            }
    if hasattr(sent, "subject") and hasattr(sent, "body"):  # moto.ses.models.Message
        return simple_message(envelope, sent.subject, sent.body)
    return None


def messages(sent_messages: Iterable[Any]) -> list[OutboxMessage]:
    """moto's sent messages (oldest first, as it appends them) as the outbox lists them."""
    found = (outbox_message(sent) for sent in list(sent_messages))
    return [message for message in found if message is not None]


def fetch(moto_endpoint: str, timeout: float = 10.0) -> list[OutboxMessage]:
    """The outbox, read from the moto server's process."""
    with urllib.request.urlopen(moto_endpoint + OUTBOX_PATH, timeout=timeout) as answer:  # noqa: S310 (loopback)
        found: list[OutboxMessage] = json.load(answer)["messages"]
    return found
