"""What the HTTP API returns (docs/contract.md §4.2): pydantic models, so the OpenAPI document
follows. What it reads is in requests.py."""

from typing import Literal, Self

from pydantic import BaseModel, Field

from payment_action_center.domain import timestamps
from payment_action_center.domain.auto_retry import RetryPolicy, next_attempt_at
from payment_action_center.domain.billing import Organization
from payment_action_center.domain.cards import ExpiringCard
from payment_action_center.domain.declines import DeclineClass, RecommendedAction, guidance
from payment_action_center.domain.entries import (
    Action,
    AuditEvent,
    Entry,
    EntryType,
    Locale,
    Method,
    Network,
    Status,
)
from payment_action_center.domain.recovery import (
    CurrencyFigures,
    RecoveredBy,
    RecoveryFigures,
    Tally,
)
from payment_action_center.domain.retry_rules import CardReattempts, RetryCaps, retry_refusal
from payment_action_center.domain.timestamps import display
from payment_action_center.ports import Preferences


class AccountHolderView(BaseModel):
    id: str
    name: str
    email: str


class FailureView(BaseModel):
    code: str
    message: str
    network: Network | None = None
    network_decline_code: str | None = None
    advice_code: str | None = None
    return_code: str | None = None


class InvoiceItemView(BaseModel):
    invoice_id: str
    item_id: str
    amount: int = Field(description="minor units")


class RetryRefusalView(BaseModel):
    reason: str = Field(description="the network's or the bank's rule, in words")
    allowed_at: str | None = Field(
        description="RFC 3339, UTC: from when the rule allows a retry; null when waiting is no "
        "answer"
    )


class TransactionView(BaseModel):
    id: str
    type: EntryType
    method: Method
    status: Status
    amount: int = Field(description="integer, minor units of currency")
    currency: str = Field(description="ISO 4217")
    account_holder: AccountHolderView
    payment_id: str
    failure: FailureView
    failed_at: str = Field(description="RFC 3339, UTC")
    attempts: int
    scheduled_payment_id: str | None
    invoice_items: list[InvoiceItemView]
    actions: list[Action]
    needs_attention: str | None = Field(
        default=None,
        description="set when a retry stayed pending past its deadline: why a person should look",
    )
    recommended_action: RecommendedAction = Field(
        description=(
            "what the billing admin should do, from the failure's code (docs/contract.md §4.2): "
            "change_payment_method after a hard decline, retry_later after a soft one, "
            "wait_for_payday for insufficient funds on an e-check, fund_merchant_account for a "
            "refund the merchant account could not fund, review (read `failure.message`) for a "
            "code with no rule"
        )
    )
    decline_class: DeclineClass = Field(
        description=(
            "what the failure allows, by the network's or the bank's rules (docs/contract.md "
            "§4.2): never_retry (a rule forbids another attempt with these details), "
            "new_payment_method (the card or account will not pay again), fix_details (the "
            "details were wrong or out of date), retry_later (the same method may pay later)"
        )
    )
    decline_reason: str = Field(description="the rule that gave decline_class, in words")
    retry_not_allowed: RetryRefusalView | None = Field(
        default=None,
        description=(
            "why the rules forbid a retry now (docs/contract.md §4.2), or null. `actions` then "
            "omits `retry`, but for an installment or a subscription, whose method the customer "
            "may have changed at the billing platform (which lifts the rule): POST …/retry "
            "decides, with a 409 `retry_not_allowed` if the rule still holds"
        ),
    )

    next_automatic_retry_at: str | None = Field(
        default=None,
        description=(
            "RFC 3339, UTC: when the organization's automatic retry policy (GET /retry-policy) "
            "next retries this entry, at the organization's local time; null when the policy is "
            "off, the entry is not failed or not a soft decline (retry_later), or has had every "
            "automatic attempt. The retry guard still applies then (a Mastercard retry-after "
            "delay defers the attempt)"
        ),
    )

    def scheduled(self, entry: Entry, schedule: tuple[RetryPolicy, str | None]) -> Self:
        """The view with the entry's next automatic retry, from the organization's policy and
        time zone (none before its settings arrive)."""
        policy, time_zone = schedule
        now = timestamps.now()
        at = next_attempt_at(entry, policy, time_zone, now) if time_zone else None
        return self.model_copy(update={"next_automatic_retry_at": display(at) if at else None})

    @classmethod
    def of(
        cls, entry: Entry, caps: RetryCaps | None = None, card: CardReattempts | None = None
    ) -> Self:
        """`caps`: the retry rules' caps, to say whether the rules forbid a retry now; `card`:
        the card's reattempts in the last 30 days, when the caller counted them (one entry's
        page does; a list does not, and a click on Retry answers)."""
        guided = guidance(entry.type, entry.method, entry.failure)
        failure = entry.failure
        refusal = None
        if caps is not None and entry.status is Status.FAILED:
            refusal = retry_refusal(entry, timestamps.now(), caps, card=card)
        actions = [
            action
            for action in entry.actions
            if not (action is Action.RETRY and refusal and not entry.changes_payment_method)
        ]
        return cls(
            id=entry.id,
            type=entry.type,
            method=entry.method,
            status=entry.status,
            amount=entry.amount,
            currency=entry.currency,
            account_holder=AccountHolderView(
                id=entry.account_holder.id,
                name=entry.account_holder.name,
                email=entry.account_holder.email,
            ),
            payment_id=entry.payment_id,
            failure=FailureView(
                code=failure.code,
                message=failure.message,
                network=failure.network,
                network_decline_code=failure.network_decline_code,
                advice_code=failure.advice_code,
                return_code=failure.return_code,
            ),
            failed_at=display(entry.failed_at),
            attempts=entry.attempts,
            scheduled_payment_id=entry.scheduled_payment_id,
            invoice_items=[
                InvoiceItemView(invoice_id=i.invoice_id, item_id=i.item_id, amount=i.amount)
                for i in entry.invoice_items
            ],
            actions=actions,
            needs_attention=entry.retry.needs_attention if entry.retry else None,
            recommended_action=guided.recommended_action,
            decline_class=guided.decline_class,
            decline_reason=guided.reason,
            retry_not_allowed=RetryRefusalView(
                reason=refusal.reason,
                allowed_at=display(refusal.allowed_at) if refusal.allowed_at else None,
            )
            if refusal
            else None,
        )


class ActorView(BaseModel):
    type: Literal["user", "system"]
    id: str | None
    email: str | None


class AuditEventView(BaseModel):
    at: str
    action: str
    actor: ActorView
    detail: dict[str, object]

    @classmethod
    def of(cls, event: AuditEvent) -> Self:
        return cls(
            at=display(event.at),
            action=event.action,
            actor=ActorView(type=event.actor.type, id=event.actor.id, email=event.actor.email),
            detail=event.detail,
        )


class TransactionDetail(TransactionView):
    audit: list[AuditEventView] = Field(description="oldest first")


class TransactionPage(BaseModel):
    items: list[TransactionView]
    next_cursor: str | None = Field(description="opaque; null on the last page")


class ErrorView(BaseModel):
    code: str
    message: str


class ScheduledAtStakeView(BaseModel):
    scheduled_payment_id: str
    kind: str
    next_payment_at: str | None
    amount: int | None = Field(description="minor units")
    currency: str | None


class ExpiringCardView(BaseModel):
    card_id: str
    account_holder: AccountHolderView
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    scheduled_payments: list[ScheduledAtStakeView]

    @classmethod
    def of(cls, card: ExpiringCard) -> Self:
        return cls(
            card_id=card.card_id,
            account_holder=AccountHolderView(
                id=card.account_holder.id,
                name=card.account_holder.name,
                email=card.account_holder.email,
            ),
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            scheduled_payments=[
                ScheduledAtStakeView(
                    scheduled_payment_id=p.scheduled_payment_id,
                    kind=p.kind.value,
                    next_payment_at=display(p.next_payment_at) if p.next_payment_at else None,
                    amount=p.amount,
                    currency=p.currency,
                )
                for p in card.scheduled_payments
            ],
        )


class ExpiringCardsPage(BaseModel):
    items: list[ExpiringCardView]
    next_cursor: str | None = Field(description="opaque; null on the last page")


class PaymentMethodLink(BaseModel):
    url: str


class NotificationPreferences(BaseModel):
    failed_transactions_digest: bool
    locale: Locale

    @classmethod
    def of(cls, saved: Preferences) -> Self:
        return cls(failed_transactions_digest=saved.failed_transactions_digest, locale=saved.locale)


class Unsubscribed(BaseModel):
    status: Literal["unsubscribed"]


class OrganizationView(BaseModel):
    """What the console shows of the caller's organization: dates in its time zone, holders as
    links to the platform's client pages."""

    id: str
    name: str
    locale: Locale
    time_zone: str = Field(description="IANA time zone")
    client_url_template: str = Field(description="the client's page; {account_holder_id} filled")
    upcoming_payments_url_template: str

    @classmethod
    def of(cls, organization: Organization) -> Self:
        return cls(
            id=organization.id,
            name=organization.name,
            locale=organization.locale,
            time_zone=organization.time_zone,
            client_url_template=organization.client_url_template,
            upcoming_payments_url_template=organization.upcoming_payments_url_template,
        )


# --- GET /metrics/recovery (domain/recovery.py) ---------------------------------------------


class TallyView(BaseModel):
    amount: int = Field(description="integer, minor units of `currency`")
    count: int

    @classmethod
    def of(cls, tally: Tally) -> Self:
        return cls(amount=tally.amount, count=tally.count)


class RecoveredByView(BaseModel):
    manual_retry: TallyView = Field(description="a retry an admin asked for")
    automatic_retry: TallyView = Field(description="a retry of the automatic retry policy")
    payment_method_changed: TallyView = Field(
        description="a retry that charged the scheduled payment's method changed after the failure"
    )


class RecoveryDayView(BaseModel):
    date: str = Field(description="YYYY-MM-DD, UTC: the day of the entries' first failure")
    failed: TallyView
    recovered: TallyView
    dismissed: TallyView


class CurrencyRecoveryView(BaseModel):
    currency: str = Field(description="ISO 4217: amounts of different currencies never mix")
    failed: TallyView = Field(description="entries whose first failure is in the range")
    recovered: TallyView
    recovered_by: RecoveredByView
    recovery_rate: float | None = Field(
        description="recovered amount ÷ failed amount (by failure date), 4 decimals; null when "
        "nothing failed"
    )
    at_risk: TallyView = Field(
        description="still open: failed in the range, neither recovered nor dismissed"
    )
    dismissed: TallyView
    median_hours_to_recovery: float | None = Field(
        description="median of the whole hours from first failure to recovery (resolution: one "
        "hour; x.5 for the mean of two middle values); null when nothing was recovered"
    )
    days: list[RecoveryDayView] = Field(description="days with any figure, oldest first")

    @classmethod
    def of(cls, figures: CurrencyFigures) -> Self:
        by = figures.recovered_by
        return cls(
            currency=figures.currency,
            failed=TallyView.of(figures.failed),
            recovered=TallyView.of(figures.recovered),
            recovered_by=RecoveredByView(
                manual_retry=TallyView.of(by[RecoveredBy.MANUAL_RETRY]),
                automatic_retry=TallyView.of(by[RecoveredBy.AUTOMATIC_RETRY]),
                payment_method_changed=TallyView.of(by[RecoveredBy.PAYMENT_METHOD_CHANGED]),
            ),
            recovery_rate=figures.recovery_rate,
            at_risk=TallyView.of(figures.at_risk),
            dismissed=TallyView.of(figures.dismissed),
            median_hours_to_recovery=figures.median_hours_to_recovery,
            days=[
                RecoveryDayView(
                    date=day.day,
                    failed=TallyView.of(day.failed),
                    recovered=TallyView.of(day.recovered),
                    dismissed=TallyView.of(day.dismissed),
                )
                for day in figures.days
            ],
        )


class RecoveryView(BaseModel):
    from_: str = Field(alias="from", description="YYYY-MM-DD, UTC, inclusive")
    to: str = Field(description="YYYY-MM-DD, UTC, inclusive")
    currencies: list[CurrencyRecoveryView] = Field(
        description="one per currency that had failures or recoveries in the range, by code"
    )

    model_config = {"populate_by_name": True, "serialize_by_alias": True}

    @classmethod
    def of(cls, figures: RecoveryFigures) -> Self:
        return cls(
            **{"from": figures.first_day},
            to=figures.last_day,
            currencies=[CurrencyRecoveryView.of(c) for c in figures.currencies],
        )


class RetryPolicyView(BaseModel):
    """The organization's automatic retry policy (docs/contract.md §4.2, GET /retry-policy)."""

    enabled: bool = Field(description="off until a billing admin turns it on")
    days: list[int] = Field(
        description="the days after the first failure on which a soft decline is retried"
    )
    local_time: str = Field(description="HH:MM, in the organization's time zone")
    updated_at: str | None = Field(description="RFC 3339, UTC; null until first saved")

    @classmethod
    def of(cls, policy: RetryPolicy) -> Self:
        return cls(
            enabled=policy.enabled,
            days=list(policy.days),
            local_time=policy.local_time,
            updated_at=display(policy.updated_at) if policy.updated_at else None,
        )
