"""The Action Center's HTTP API for billing admins (docs/contract.md §4.2); JWT checked by API
Gateway."""

import functools
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payment_action_center import cards, digest, preferences, retries, timestamps
from payment_action_center.adapters import Adapters
from payment_action_center.auth import caller_from_claims
from payment_action_center.dynamodb.store import DynamoEntryStore
from payment_action_center.errors import Conflict, DomainError, InvalidQuery
from payment_action_center.http import domain_error_response, error_response, json_response
from payment_action_center.json_bodies import JsonApiResolver, validation_error_response
from payment_action_center.listing import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    EntryFilter,
    decode_cursor,
    decode_opaque,
    encode_cursor,
    encode_opaque,
)
from payment_action_center.model import DEFAULT_LOCALE, Caller, EntryType, Locale, Method, Status
from payment_action_center.settings import Settings
from payment_action_center.views import (
    AuditEventView,
    ErrorView,
    ExpiringCardsPage,
    ExpiringCardView,
    TransactionDetail,
    TransactionPage,
    TransactionView,
)


class ApiSettings(Settings):
    retry_queue_url: str = Field(alias="RETRY_QUEUE_URL", min_length=1)
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    idempotency_hours: int = Field(alias="IDEMPOTENCY_HOURS", default=24, ge=1)
    unsubscribe_secret_arn: str = Field(alias="UNSUBSCRIBE_SECRET_ARN", min_length=1)


settings = ApiSettings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Bodies are read as JSON whatever their declared content type (curl's default is a form).
app = JsonApiResolver()

_error_content = {"application/json": {"schema": ErrorView.model_json_schema()}}
EntryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_~.-]{1,128}$")]
OpenStatus = Annotated[
    Status | None, Query(description="failed or retry_pending (the table shows open entries)")
]
Money = Annotated[int | None, Query(ge=0, description="minor units, inclusive")]


adapters = Adapters(
    settings.table_name,
    event_bus_name=settings.event_bus_name,
    retry_queue_url=settings.retry_queue_url,
)


def store() -> DynamoEntryStore:
    return adapters.entries


# Idempotency-Key: the same request again answers as the first time (records in the table).
idempotency = IdempotencyConfig(expires_after_seconds=settings.idempotency_hours * 3600)
persistence = DynamoDBPersistenceLayer(
    table_name=settings.table_name,
    key_attr="pk",
    sort_key_attr="sk",
    static_pk_value="IDEMPOTENCY#api",
    expiry_attr="expires_at",
)


def caller() -> Caller:
    claims = app.current_event.request_context.authorizer.jwt_claim
    found = caller_from_claims(claims)
    logger.append_keys(org_id=found.org_id, user_id=found.user_id)
    return found


def instant(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return timestamps.canonical(value)
    except ValueError as error:
        raise InvalidQuery(field, str(error)) from None


@app.get("/transactions")
@tracer.capture_method(capture_response=False)
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
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> TransactionPage:
    """The open entries, newest failure first."""
    who = caller()
    if status is not None and not status.is_open:
        raise InvalidQuery("status", "the table lists open entries: failed or retry_pending")
    where = EntryFilter(
        status=status,
        type=entry_type,
        method=method,
        account_holder_id=account_holder_id,
        q=q,
        failed_from=instant("from", failed_from),
        failed_to=instant("to", failed_to),
        min_amount=min_amount,
        max_amount=max_amount,
    )
    fingerprint = where.fingerprint(who.org_id)
    after = decode_cursor(cursor, fingerprint) if cursor else None
    page = store().list_open(who.org_id, where, limit, after)
    return TransactionPage(
        items=[TransactionView.of(entry) for entry in page.entries],
        next_cursor=encode_cursor(page.next, fingerprint) if page.next else None,
    )


@app.get("/transactions/<id>")
@tracer.capture_method(capture_response=False)
def get_transaction(id: EntryId) -> TransactionDetail:
    """One entry (another organization's is 404) and its audit trail, oldest first."""
    who = caller()
    entry, audit = store().get_with_audit(who.org_id, id)
    return TransactionDetail(
        **TransactionView.of(entry).model_dump(),
        audit=[AuditEventView.of(event) for event in audit],
    )


class RetryRequest(BaseModel):
    org_id: str
    user_id: str
    transaction_id: str
    idempotency_key: str


@idempotent_function(
    data_keyword_argument="request", config=idempotency, persistence_store=persistence
)
def retry_once(request: RetryRequest) -> dict[str, Any]:
    pending = retries.request_retry(store(), adapters.retry_queue, caller(), request.transaction_id)
    return TransactionView.of(pending).model_dump(mode="json")


@app.post(
    "/transactions/<id>/retry",
    status_code=202,
    responses={
        202: {"description": "the retry is pending (orange clock)"},
        403: {"description": "not a billing admin", "content": _error_content},
        404: {"description": "no such transaction", "content": _error_content},
        409: {
            "description": "not failed, or a retry is already in flight",
            "content": _error_content,
        },
    },
)
@tracer.capture_method(capture_response=False)
def retry(
    id: EntryId,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
    ] = None,
) -> TransactionView:
    """Retry a failed transaction: the charge (or refund) is sent asynchronously."""
    who = caller()
    if idempotency_key is None:
        return TransactionView.of(retries.request_retry(store(), adapters.retry_queue, who, id))
    request = RetryRequest(
        org_id=who.org_id, user_id=who.user_id, transaction_id=id, idempotency_key=idempotency_key
    )
    try:
        return TransactionView.model_validate(retry_once(request=request))
    except IdempotencyAlreadyInProgressError:
        raise Conflict("the same request (Idempotency-Key) is being processed") from None


class DismissRequest(BaseModel):
    # A misspelled key ("reson") is refused, not dismissed without a reason.
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


@app.post(
    "/transactions/<id>/dismiss",
    responses={
        400: {"description": "the body is not JSON (invalid_json)", "content": _error_content},
        403: {"description": "not a billing admin", "content": _error_content},
        404: {"description": "no such transaction", "content": _error_content},
        409: {"description": "not failed", "content": _error_content},
    },
)
@tracer.capture_method(capture_response=False)
def dismiss(id: EntryId, body: Annotated[DismissRequest | None, Body()] = None) -> TransactionView:
    """Remove a failed transaction from the table; it is kept, with who did it and why."""
    reason = body.reason if body else None
    return TransactionView.of(
        retries.dismiss(store(), adapters.publisher, caller(), id, reason or None)
    )


class PaymentMethodLink(BaseModel):
    url: str


@app.get(
    "/transactions/<id>/payment-method-link",
    responses={
        404: {"description": "no such transaction", "content": _error_content},
        409: {
            "description": "no payment method to change here, and why",
            "content": _error_content,
        },
    },
)
@tracer.capture_method(capture_response=False)
def payment_method_link(id: EntryId) -> PaymentMethodLink:
    """Where to change the payment method of an installment or subscription."""
    return PaymentMethodLink(
        url=retries.payment_method_link(store(), adapters.billing, caller(), id)
    )


@app.get("/expiring-cards")
@tracer.capture_method(capture_response=False)
def expiring_cards(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> ExpiringCardsPage:
    """Wallet cards linked to scheduled payments that expire next month (organization's time)."""
    who = caller()
    organization = adapters.billing.organization(who.org_id)
    zone = organization.time_zone if organization else "UTC"
    month = cards.next_month(datetime.now(UTC), zone)
    fingerprint = f"{who.org_id}#{month}"
    after = None
    if cursor:
        organization_id, card_id = decode_opaque(cursor, fingerprint, 2)
        after = cards.CardPosition(organization_id, card_id)
    page = adapters.billing.expiring(who.org_id, month, limit, after)
    following = page.next
    return ExpiringCardsPage(
        items=[ExpiringCardView.of(card) for card in page.items],
        next_cursor=(
            encode_opaque(fingerprint, following.organization_id, following.card_id)
            if following
            else None
        ),
    )


class NotificationPreferences(BaseModel):
    failed_transactions_digest: bool
    locale: Locale

    @classmethod
    def of(cls, saved: preferences.Preferences) -> "NotificationPreferences":
        return cls(failed_transactions_digest=saved.failed_transactions_digest, locale=saved.locale)


def default_locale(organization_id: str) -> Locale:
    """The organization's locale until the admin picks one."""
    organization = adapters.billing.organization(organization_id)
    return organization.locale if organization is not None else DEFAULT_LOCALE


@app.get("/me/notification-preferences")
@tracer.capture_method(capture_response=False)
def get_notification_preferences() -> NotificationPreferences:
    """The caller's daily-digest preferences (not subscribed until they opt in)."""
    who = caller()
    return NotificationPreferences.of(
        preferences.current(adapters.digests, who, default_locale(who.org_id))
    )


@app.put(
    "/me/notification-preferences",
    responses={
        400: {"description": "the body is not JSON (invalid_json)", "content": _error_content}
    },
)
@tracer.capture_method(capture_response=False)
def put_notification_preferences(
    wanted: Annotated[preferences.PreferencesChange, Body()],
) -> NotificationPreferences:
    """Opt in or out of the daily digest, in fr-CA or en-CA; sent to the token's email."""
    return NotificationPreferences.of(preferences.change(adapters.digests, caller(), wanted))


class Unsubscribed(BaseModel):
    status: Literal["unsubscribed"]


@app.post(
    "/me/notification-preferences/unsubscribe",
    responses={
        200: {
            "description": "no digest for this admin any more (also when already out)",
            "content": {"application/json": {"schema": Unsubscribed.model_json_schema()}},
        },
        403: {"description": "the link's signature does not match", "content": _error_content},
    },
)
def unsubscribe(
    o: Annotated[str, Query(max_length=128)],
    u: Annotated[str, Query(max_length=256)],
    s: Annotated[str, Query(max_length=128)],
) -> Response[Any]:
    """One-click unsubscribe (RFC 8058) from the digest's List-Unsubscribe header. No JWT: the
    link is signed (`s`) for the organization (`o`) and the admin (`u`)."""
    key = str(parameters.get_secret(settings.unsubscribe_secret_arn, max_age=300)).encode()
    if not hmac.compare_digest(digest.sign(key, o, u), s):
        return error_response(403, "forbidden", "this unsubscribe link is not valid")
    found = adapters.digests.preferences(o, u)
    if found is not None and found.failed_transactions_digest:
        adapters.digests.save_preferences(
            replace(found, failed_transactions_digest=False, updated_at=timestamps.now())
        )
    return json_response(200, {"status": "unsubscribed"})


@app.get(
    "/openapi.json",
    responses={200: {"description": "this document", "content": {"application/json": {}}}},
)
def openapi() -> Response[Any]:
    """This OpenAPI 3.1 document: every route, and the webhooks under `webhooks`."""
    return Response(200, "application/json", openapi_document())


# The routes template.yaml opens without the JWT authorizer (Auth: NONE), besides the webhooks.
PUBLIC_ROUTES = {"/openapi.json": "get", "/me/notification-preferences/unsubscribe": "post"}


@functools.cache
def openapi_document() -> str:
    # Imported here: the webhooks' schemas are built only when the document is asked for.
    from payment_action_center.webhook_docs import with_webhooks  # noqa: PLC0415

    generated = json.loads(
        app.get_openapi_json_schema(
            title="Payment Action Center API",
            version="1.0.0",
            description="Failed payments of an organization and what its billing admins do.",
            security_schemes={"jwt": HTTPBearer(bearerFormat="JWT")},
            security=[{"jwt": []}],
        )
    )
    # Powertools leaves out an empty `security` (no token), so the JWT default would apply.
    for path, method in PUBLIC_ROUTES.items():
        generated["paths"][path][method]["security"] = []
    return with_webhooks(json.dumps(generated))


@app.exception_handler(DomainError)
def refuse(error: DomainError) -> Response[Any]:
    return domain_error_response(error)


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[Any]:
    return validation_error_response(error)


@app.not_found
def no_route(_: Exception) -> Response[Any]:
    return json_response(404, {"code": "not_found", "message": "no such route"})


# clear_state: org_id and user_id (caller) belong to one request, not to the next one.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
