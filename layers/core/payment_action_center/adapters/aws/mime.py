"""An email as an RFC 5322 message, for SES v2's `Content.Raw` (docs/contract.md §4.3).

Raw, not `Content.Simple`, so that the message carries our own headers (List-Unsubscribe) and
both parts reach the recipient as built (moto keeps only the HTML of a Simple message).
"""

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr

from payment_action_center.ports import Email

# CRLF line ends; headers folded only past RFC 5322's hard limit, because the default 78 would
# turn a long List-Unsubscribe URL into encoded words that no mail client reads as a URL.
_POLICY = SMTP.clone(max_line_length=998)
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_HEADER_VALUE = re.compile(r"[ -~]*")
_MAX_HEADER_LINE = 998
_ADDRESSES = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
_SET_HERE = frozenset({"subject", "date", "message-id", "mime-version", "content-type"})


def mime_message(email: Email, *, sender: str, to: str) -> bytes:
    """multipart/alternative (text, then HTML), UTF-8, quoted-printable, CRLF line ends.

    ValueError for a header of `email.headers` that is not one printable ASCII line, or that
    would replace one of the message's own (addresses, Subject, Date, Message-ID, MIME).
    """
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = email.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    for name, value in email.headers.items():
        _check_header(name, value)
        message[name] = value
    message.set_content(email.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message.as_bytes()


def _domain(sender: str) -> str | None:
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2]
    return domain or None


def _check_header(name: str, value: str) -> None:
    lowered = name.lower()
    if not _HEADER_NAME.fullmatch(name) or lowered in _ADDRESSES | _SET_HERE:
        raise ValueError(f"header {name!r} cannot be set from email.headers")
    if not _HEADER_VALUE.fullmatch(value) or len(name) + 2 + len(value) > _MAX_HEADER_LINE:
        raise ValueError(f"header {name} must be one line of printable ASCII: {value!r}")
