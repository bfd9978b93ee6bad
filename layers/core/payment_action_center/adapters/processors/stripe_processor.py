"""The Stripe processor: charges and refunds on each organization's Stripe Connect account.

Every call carries the organization's connected account (`stripe_account`: the request's
`processor_account`, which for a request already sent is the account it was sent on, since Stripe
keeps idempotency keys per account) and the retry's idempotency key twice: as Stripe's
`Idempotency-Key`, so a request sent again on that account within Stripe's 24 hours and with the
same parameters gets the first answer and never a second object, and in the object's `metadata`,
so that `status()` can find it later.

A charge is one call: a PaymentIntent created and confirmed off-session on the saved payment
method. A refund is one call when the request names the PaymentIntent (`pi_…`) or charge (`ch_…`)
it refunds, two when it names the failed refund (`re_…`) whose PaymentIntent is read first; it
refunds the request's amount.

`status(request)` looks for what was sent under the request's key without ever sending anything,
since "nothing arrived" must stay a possible answer (the watchdog queues the work again then):
a charge through the Search API (`metadata['idempotency_key']`), a refund by listing the refunds
of the payment it refunds (refunds have no search). Search lags writes by up to a minute, so a
PaymentIntent created a moment ago may not be found yet and status() answers None. That wrong
None is harmless, and the reason the search is kept over replaying the create: the only thing
a caller does with None is to send the same request again under the same key, and a resend
within the lag is well within Stripe's 24 hours, so Stripe answers it with the original
PaymentIntent and charges nobody twice. After the lag, None means that nothing arrived. In
practice the callers ask after the lag anyway (the retry queue's 360 s visibility timeout, the
watchdog's 30 minutes). Replaying the create would answer too, but it would charge when nothing
had arrived, which a status must not do (the watchdog only queues the work again then).

A resend after a None may carry other parameters than the first request (the scheduled
payment's method changed in between): Stripe then refuses the key (`idempotency_error`) rather
than answer or charge, which says that the first request did arrive; it is taken as an unknown
outcome, and the next status, once Search has caught up, finds the first PaymentIntent.

Errors: a decline is a failed charge; a rate limit, a lost connection, a timeout, a 5xx or an
idempotency refusal is an unknown outcome (ProcessorUnavailable), after the SDK's own retries
under the same key; a refused or missing API key, a connected account the platform may no longer
act for, an organization without one, or a request Stripe refuses as invalid is ProcessorRefused
(StripeAccessRefused, NoStripeAccount, StripeRequestRefused): an alarm rather than the
customer's failure, and nothing is created.
"""

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import stripe

from payment_action_center.domain.entries import Failure, card_decline
from payment_action_center.ports import (
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    Operation,
    ProcessorRefused,
    ProcessorUnavailable,
)

if TYPE_CHECKING:  # typing only: the SDK's parameter types cost ~80 ms of import at cold start
    from stripe.params import PaymentIntentCreateParams, RefundCreateParams, RefundListParams

type ApiKey = Callable[[], str]

# Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500.
_METADATA_KEYS = 50
_METADATA_KEY_LENGTH = 40
_METADATA_VALUE_LENGTH = 500
# The keys the adapter writes itself; the request's metadata never overrides them.
_OWN_KEYS = ("idempotency_key", "transaction_id", "organization_id", "retry_of")


# What a Refund refunds, by the parameter that names it.
type _Refunded = tuple[Literal["payment_intent", "charge"], str]


class NoStripeAccount(ProcessorRefused):
    """The organization has no Stripe Connect account: nothing can be charged on its behalf."""


class StripeAccessRefused(ProcessorRefused):
    """Stripe refused the platform's key, or its access to the connected account: an alarm for
    the operators, never the customer's failure."""


class StripeRequestRefused(ProcessorRefused):
    """Stripe refused the request itself (400: a payment method or payment it does not know, a
    parameter out of range, a refund of a payment already refunded): nothing was created, and
    sending it again would be refused alike. An operator looks; the customer's payment has not
    failed for it."""

    def __init__(self, code: str | None, user_message: str | None) -> None:
        super().__init__(f"Stripe refused the request ({code or 'no code'}): {user_message}")
        self.code = code
        self.user_message = user_message


class RefundTargetMissing(ProcessorRefused):
    """A refund request that does not name the payment it refunds (metadata `payment_id`)."""


# The platform's key: a secret (rk_…, or sk_… though a restricted key is what docs/deploy.md asks
# for). Anything else is a secret left unfilled, refused before a request carries it.
_KEY_PREFIXES = ("rk_live_", "rk_test_", "sk_live_", "sk_test_")


class StripeProcessor:
    """`api_key` is asked before each request (the caller caches it: a rotated key is taken up
    without a cold start)."""

    def __init__(
        self,
        api_key: ApiKey,
        *,
        api_base: str | None = None,
        max_network_retries: int = 2,
        timeout_seconds: float = 8.0,
    ) -> None:
        # Three tries of 8 s and the SDK's backoff (0.5 s, 1 s) fit one message in the retry
        # worker's 30 s (template.yaml); a try cut short is safe, its retry replays the key.
        # The client's own key is never sent: every request names the current one (_options).
        self._client = stripe.StripeClient(
            "rk_unused",
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
        )
        self._api_key = api_key

    def charge(self, request: ChargeRequest) -> ChargeResult:
        options = self._options(request, idempotent=True)
        params: PaymentIntentCreateParams = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "payment_method": request.token,
            "confirm": True,
            "off_session": True,
            "metadata": stripe_metadata(request),
        }
        # A saved PaymentMethod belongs to a Customer, and Stripe charges it off-session only
        # with that Customer named; the platform's events do not carry it yet (the request's
        # metadata `processor_customer_id` once they do).
        customer = request.metadata.get("processor_customer_id")
        if isinstance(customer, str) and customer:
            params["customer"] = customer
        try:
            intent = _call(lambda: self._client.v1.payment_intents.create(params, options))
        except stripe.CardError as error:
            return _declined(error)
        return _of_payment_intent(intent)

    def refund(self, request: ChargeRequest) -> ChargeResult:
        options = self._options(request, idempotent=True)
        field, payment = self._refunded(request, options)
        params: RefundCreateParams = {
            "amount": request.amount,
            "metadata": stripe_metadata(request),
        }
        params[field] = payment
        try:
            refund = _call(lambda: self._client.v1.refunds.create(params, options))
        except StripeRequestRefused as refused:
            if refused.code != "balance_insufficient":
                raise
            # The connected account lacks the funds: the refund failed, as one that Stripe
            # accepted and then failed for insufficient funds would.
            message = refused.user_message or "The account's balance is insufficient."
            return ChargeResult(
                ChargeOutcome.FAILED, failure=Failure("insufficient_funds", message)
            )
        return _of_refund(refund)

    def status(self, request: ChargeRequest) -> ChargeResult | None:
        """What became of the request sent under its key; None if Stripe has no object for it.

        The key alone cannot say on which connected account to look: the request names the
        account it was sent on and, for a refund, the payment refunded.
        """
        options = self._options(request, idempotent=False)
        if request.operation is Operation.REFUND:
            return self._refund_status(request, options)
        query = f"metadata['idempotency_key']:'{_quoted(request.idempotency_key)}'"
        found = _call(
            lambda: self._client.v1.payment_intents.search({"query": query, "limit": 1}, options)
        )
        return _of_payment_intent(found.data[0]) if found.data else None

    def _refund_status(
        self, request: ChargeRequest, options: stripe.RequestOptions
    ) -> ChargeResult | None:
        field, payment = self._refunded(request, options)
        target: RefundListParams = {"limit": 100}
        target[field] = payment
        refunds = _call(lambda: self._client.v1.refunds.list(target, options))
        # Each further page is a request too: its errors in the port's terms as well.
        key = request.idempotency_key
        found = _call(
            lambda: next(
                (r for r in refunds.auto_paging_iter() if _key_of(r.metadata) == key), None
            )
        )
        return None if found is None else _of_refund(found)

    def _refunded(self, request: ChargeRequest, options: stripe.RequestOptions) -> _Refunded:
        """What a refund refunds: the PaymentIntent or charge the request names, or the
        PaymentIntent of the failed refund it names."""
        payment_id = request.metadata.get("payment_id")
        if not isinstance(payment_id, str) or not payment_id:
            raise RefundTargetMissing(
                f"refund {request.transaction_id} does not name the payment it refunds"
            )
        if payment_id.startswith("ch_"):
            return "charge", payment_id
        if payment_id.startswith("re_"):
            failed = _call(lambda: self._client.v1.refunds.retrieve(payment_id, None, options))
            intent = _field(failed, "payment_intent")
            if intent is not None:
                return "payment_intent", intent if isinstance(intent, str) else intent.id
            charge = _field(failed, "charge")
            if charge is None:
                raise RefundTargetMissing(f"refund {payment_id} names no payment")
            return "charge", charge if isinstance(charge, str) else charge.id
        return "payment_intent", payment_id

    def _options(self, request: ChargeRequest, *, idempotent: bool) -> stripe.RequestOptions:
        organization_id = str(request.metadata.get("organization_id") or "")
        account = request.processor_account
        if not account:
            raise NoStripeAccount(
                f"organization {organization_id or '(none)'} has no Stripe account to charge on"
            )
        key = self._api_key()
        if not key.startswith(_KEY_PREFIXES):
            raise StripeAccessRefused(
                "the Stripe API key secret holds no key (rk_live_…): store the platform's "
                "restricted key in StripeApiKeySecret (docs/deploy.md)"
            )
        options: stripe.RequestOptions = {"stripe_account": account, "api_key": key}
        if idempotent:
            options["idempotency_key"] = request.idempotency_key
        return options


def stripe_metadata(request: ChargeRequest) -> dict[str, str]:
    """The request's metadata as Stripe keeps it: flat string values, within its limits.

    Nested objects become `parent_child` keys; lists are written as JSON. A value that would
    not fit (over 500 characters, e.g. a long list of invoice items) is left out rather than
    cut into invalid JSON, as are None values (an empty string deletes a key at Stripe).
    """
    own = {
        "idempotency_key": request.idempotency_key,
        "transaction_id": request.transaction_id,
        "organization_id": str(request.metadata.get("organization_id", "")),
        "retry_of": request.transaction_id,
    }
    flat: dict[str, str] = {}
    _flatten(request.metadata, "", flat)
    extra = {
        key: value
        for key, value in flat.items()
        if key not in _OWN_KEYS
        and len(key) <= _METADATA_KEY_LENGTH
        and len(value) <= _METADATA_VALUE_LENGTH
    }
    room = _METADATA_KEYS - len(own)
    return own | dict(list(extra.items())[:room])


def _flatten(values: Mapping[str, Any], prefix: str, into: dict[str, str]) -> None:
    for key, value in values.items():
        name = f"{prefix}{key}"
        if value is None:
            continue
        if isinstance(value, Mapping):
            _flatten(value, f"{name}_", into)
        elif isinstance(value, str):
            into[name] = value
        else:
            into[name] = json.dumps(value, separators=(",", ":"), sort_keys=True)


def _declined_failure(code: str, message: str, error: Any) -> Failure:
    """A decline with what the network said, as Stripe passes it on (its payment error's
    network_decline_code and network_advice_code, the card's network): what the decline rules
    read (domain/declines.py)."""
    card = _field(_field(error, "payment_method"), "card")
    return card_decline(
        code,
        message,
        network=_field(card, "network") or _field(card, "brand"),
        decline=_field(error, "network_decline_code"),
        advice=_field(error, "network_advice_code"),
    )


def _field(obj: Any, name: str) -> Any:
    """An optional field of a Stripe object: None when absent or null. Stripe leaves unset keys
    out of some objects (a bank debit's payment error has no `decline_code`), and the SDK's
    attribute access raises AttributeError for a key that is not there (its objects are no
    dicts: no .get)."""
    return getattr(obj, name, None)


def _key_of(metadata: stripe.StripeObject | None) -> str | None:
    """The idempotency key an object's metadata carries (metadata is no dict in the SDK)."""
    if metadata is None or "idempotency_key" not in metadata:
        return None
    return str(metadata["idempotency_key"])


def _quoted(value: str) -> str:
    """A value inside a single-quoted Search query string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _call[T](send: Callable[[], T]) -> T:
    """One Stripe call, its errors in the port's terms. A card error is left to the caller."""
    try:
        return send()
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        raise StripeAccessRefused(f"Stripe refused access: {error.user_message}") from error
    except (stripe.RateLimitError, stripe.APIConnectionError) as error:
        raise ProcessorUnavailable(f"Stripe did not answer: {type(error).__name__}") from error
    except stripe.IdempotencyError as error:
        # The key was used with other parameters: the first request arrived (module docstring).
        raise ProcessorUnavailable("Stripe holds another request under this key") from error
    except stripe.InvalidRequestError as error:
        raise StripeRequestRefused(error.code, error.user_message) from error
    except stripe.APIError as error:
        raise ProcessorUnavailable(f"Stripe answered {error.http_status}") from error


def _declined(error: stripe.CardError) -> ChargeResult:
    details = error.error
    code = _field(details, "decline_code") or error.code or "card_declined"
    intent = _field(details, "payment_intent")
    return ChargeResult(
        ChargeOutcome.FAILED,
        payment_id=intent.id if intent is not None else None,
        failure=_declined_failure(code, error.user_message or "The payment was declined.", details),
    )


def _of_payment_intent(intent: stripe.PaymentIntent) -> ChargeResult:
    if intent.status == "succeeded":
        return ChargeResult(ChargeOutcome.SUCCEEDED, payment_id=intent.id)
    if intent.status == "processing":
        return ChargeResult(ChargeOutcome.PENDING, payment_id=intent.id)
    if intent.status == "requires_payment_method":
        last = _field(intent, "last_payment_error")
        code = _field(last, "decline_code") or _field(last, "code") or "payment_failed"
        message = _field(last, "message") or "The payment was declined."
        return ChargeResult(ChargeOutcome.FAILED, intent.id, _declined_failure(code, message, last))
    if intent.status == "canceled":
        reason = _field(intent, "cancellation_reason") or "canceled"
        return ChargeResult(
            ChargeOutcome.FAILED, intent.id, Failure(reason, "The payment was canceled.")
        )
    # requires_action, requires_confirmation, requires_capture: not an outcome this adapter
    # asks for; never taken for a failure.
    raise ProcessorUnavailable(f"PaymentIntent {intent.id} is {intent.status}")


def _of_refund(refund: stripe.Refund) -> ChargeResult:
    if refund.status == "succeeded":
        return ChargeResult(ChargeOutcome.SUCCEEDED, payment_id=refund.id)
    if refund.status in {"pending", "requires_action"}:
        return ChargeResult(ChargeOutcome.PENDING, payment_id=refund.id)
    if refund.status in {"failed", "canceled"}:
        reason = _field(refund, "failure_reason") or refund.status
        return ChargeResult(
            ChargeOutcome.FAILED, refund.id, Failure(reason, f"The refund {refund.status}.")
        )
    raise ProcessorUnavailable(f"Refund {refund.id} is {refund.status}")
