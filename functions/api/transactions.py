"""The open entries of an organization and what a billing admin does to one: retry, dismiss,
change the payment method."""

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from route_parts import ERROR_CONTENT, Cursor, EntryId, Limit, caller
from wiring import adapters, idempotency, persistence, retry_caps, retry_needs_account

from payment_action_center.adapters.http.requests import DismissRequest, RetryRequest
from payment_action_center.adapters.http.strict_json import MAX_SAFE_INTEGER
from payment_action_center.adapters.http.views import (
    AuditEventView,
    PaymentMethodLink,
    TransactionDetail,
    TransactionPage,
    TransactionView,
)
from payment_action_center.app import actions, auto_retry, transactions
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Caller, Entry, EntryType, Method, Status
from payment_action_center.domain.errors import Conflict
from payment_action_center.domain.listing import DEFAULT_LIMIT

router = Router()

OpenStatus = Annotated[
    Status | None, Query(description="failed or retry_pending (the table shows open entries)")
]
Money = Annotated[
    int | None,
    Query(ge=0, le=MAX_SAFE_INTEGER, description="minor units, inclusive"),
]


@router.get("/transactions")
def list_transactions(
    status: OpenStatus = None,
    entry_type: Annotated[EntryType | None, Query(alias="type")] = None,
    method: Annotated[Method | None, Query()] = None,
    account_holder_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="account holder name or payment id"),
    ] = None,
    failed_from: Annotated[
        str | None, Query(alias="from", pattern=timestamps.RFC3339_PATTERN, description="inclusive")
    ] = None,
    failed_to: Annotated[
        str | None, Query(alias="to", pattern=timestamps.RFC3339_PATTERN, description="inclusive")
    ] = None,
    min_amount: Money = None,
    max_amount: Money = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> TransactionPage:
    """The open entries, newest failure first."""
    where = transactions.entry_filter(
        status=status,
        entry_type=entry_type,
        method=method,
        account_holder_id=account_holder_id,
        q=q,
        failed_from=failed_from,
        failed_to=failed_to,
        min_amount=min_amount,
        max_amount=max_amount,
    )
    who = caller(router)
    listing = transactions.list_open(adapters.entries, who, where, limit, cursor)
    items = [TransactionView.of(entry, retry_caps) for entry in listing.entries]
    schedule = auto_retry.schedule_of(adapters.policies, who.org_id, listing.entries)
    if schedule is not None:  # the next automatic retries: one read for the page
        pairs = zip(items, listing.entries, strict=True)
        items = [view.scheduled(entry, schedule) for view, entry in pairs]
    return TransactionPage(items=items, next_cursor=listing.next_cursor)


@router.get(
    "/transactions/<id>",
    responses={
        200: {"description": "the entry and its audit trail"},
        404: {"description": "no such transaction", "content": ERROR_CONTENT},
    },
)
def get_transaction(id: EntryId) -> TransactionDetail:
    """One entry (another organization's is 404) and its audit trail, oldest first."""
    entries = adapters.entries
    entry, audit = entries.get_with_audit(caller(router).org_id, id)
    view = TransactionView.of(entry, retry_caps, actions.card_reattempts(entries, entry))
    schedule = auto_retry.schedule_of(adapters.policies, entry.organization_id, [entry])
    if schedule is not None:
        view = view.scheduled(entry, schedule)
    return TransactionDetail(
        **view.model_dump(),
        audit=[AuditEventView.of(event) for event in audit],
    )


@idempotent_function(
    data_keyword_argument="request",
    config=idempotency,
    persistence_store=persistence,
    output_serializer=PydanticSerializer,
)
def retry_once(request: RetryRequest) -> TransactionView:
    return TransactionView.of(request_retry(caller(router), request.transaction_id))


def request_retry(who: Caller, entry_id: str) -> Entry:
    return actions.request_retry(
        adapters.entries,
        adapters.retry_queue,
        who,
        entry_id,
        accounts=adapters.billing if retry_needs_account else None,
        billing=adapters.billing,
        caps=retry_caps,
    )


@router.post(
    "/transactions/<id>/retry",
    status_code=202,
    responses={
        202: {"description": "the retry is pending (orange clock)"},
        403: {"description": "not a billing admin", "content": ERROR_CONTENT},
        404: {"description": "no such transaction", "content": ERROR_CONTENT},
        409: {
            "description": "not failed, a retry is already in flight, (with a processor "
            "that charges the organization's own account) the organization has no "
            "processor_account_id, or code `retry_not_allowed`: the card network's or the "
            "bank's rules forbid a retry now (the message gives the rule; `retry_allowed_at`, "
            "RFC 3339, from when one is allowed, when waiting is the answer)",
            "content": ERROR_CONTENT,
        },
    },
)
def retry(
    id: EntryId,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
    ] = None,
) -> TransactionView:
    """Retry a failed transaction: the charge (or refund) is sent asynchronously."""
    who = caller(router)
    if idempotency_key is None:
        return TransactionView.of(request_retry(who, id))
    request = RetryRequest(
        org_id=who.org_id, user_id=who.user_id, transaction_id=id, idempotency_key=idempotency_key
    )
    try:
        return retry_once(request=request)
    except IdempotencyAlreadyInProgressError:
        raise Conflict("the same request (Idempotency-Key) is being processed") from None


@router.post(
    "/transactions/<id>/dismiss",
    responses={
        200: {"description": "dismissed: it leaves the table, kept for audit"},
        400: {"description": "the body is not JSON (invalid_json)", "content": ERROR_CONTENT},
        403: {"description": "not a billing admin", "content": ERROR_CONTENT},
        404: {"description": "no such transaction", "content": ERROR_CONTENT},
        409: {"description": "not failed", "content": ERROR_CONTENT},
    },
)
def dismiss(id: EntryId, body: Annotated[DismissRequest | None, Body()] = None) -> TransactionView:
    """Remove a failed transaction from the table; it is kept, with who did it and why."""
    reason = body.reason if body else None
    dismissed = actions.dismiss(
        adapters.entries, adapters.publisher, caller(router), id, reason or None
    )
    return TransactionView.of(dismissed)


@router.get(
    "/transactions/<id>/payment-method-link",
    responses={
        200: {"description": "the customer's upcoming payments, where the method is changed"},
        404: {"description": "no such transaction", "content": ERROR_CONTENT},
        409: {
            "description": "no payment method to change here, and why",
            "content": ERROR_CONTENT,
        },
    },
)
def payment_method_link(id: EntryId) -> PaymentMethodLink:
    """Where to change the payment method of an installment or subscription."""
    url = actions.payment_method_link(adapters.entries, adapters.billing, caller(router), id)
    return PaymentMethodLink(url=url)
