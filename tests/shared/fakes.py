"""In-memory fakes of the ports, with the same rules as the DynamoDB adapters."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Never

from payment_action_center.adapters.aws.mime import mime_message
from payment_action_center.app.work import RetryWork
from payment_action_center.domain.billing import (
    CardRecord,
    Organization,
    Plan,
    ScheduledPayment,
    ScheduledPaymentEnded,
    cards_touched,
)
from payment_action_center.domain.cards import CardPosition, ExpiringPage, expiring_card
from payment_action_center.domain.entries import AuditEvent, BusEvent, Entry, Failure, Status
from payment_action_center.domain.errors import NotFound
from payment_action_center.domain.listing import EntryFilter, Page, Position
from payment_action_center.ports import (
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    Delivery,
    Email,
    LinkedChange,
    LinkedState,
    MailerError,
    MailerOutcomeUnknown,
    ProcessorUnavailable,
    PublishFailed,
    QueueUnavailable,
    StoreConflict,
)


@dataclass
class InMemoryEntryStore:
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    audit: dict[tuple[str, str], list[AuditEvent]] = field(default_factory=dict)
    failure_log: list[tuple[str, str, int]] = field(default_factory=list)
    deliveries: set[tuple[str, str]] = field(default_factory=set)
    outbox_events: list[BusEvent] = field(default_factory=list)
    # (organization, card) → the instants of its reattempts
    card_attempts: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def record_failure(self, entry: Entry, received: AuditEvent, delivery: Delivery) -> None:
        key = (entry.organization_id, entry.id)
        failed = set()
        if (delivery.endpoint, delivery.webhook_id) in self.deliveries:
            failed.add("delivery")
        if key in self.entries:
            failed |= {"entry", "audit", "failure_log"}
        if failed:
            raise StoreConflict(frozenset(failed))
        self.entries[key] = entry
        self.audit[key] = [received]
        self.failure_log.append((entry.organization_id, entry.failed_at, entry.attempts))
        self.deliveries.add((delivery.endpoint, delivery.webhook_id))

    def transition(
        self,
        entry: Entry,
        event: AuditEvent,
        *,
        outbox: Sequence[BusEvent] = (),
        delivery: Delivery | None = None,
        log_failure: bool = False,
        card_attempt: str | None = None,
    ) -> None:
        key = (entry.organization_id, entry.id)
        failed = set()
        if self.entries[key].version != entry.version - 1:
            failed.add("entry")
        if delivery is not None and (delivery.endpoint, delivery.webhook_id) in self.deliveries:
            failed.add("delivery")
        if failed:
            raise StoreConflict(frozenset(failed))
        self.entries[key] = entry
        self.audit[key].append(event)
        if log_failure:
            self.failure_log.append((entry.organization_id, entry.failed_at, entry.attempts))
        self.outbox_events += outbox
        if delivery is not None:
            self.deliveries.add((delivery.endpoint, delivery.webhook_id))
        if card_attempt is not None:
            attempts = self.card_attempts.setdefault((entry.organization_id, card_attempt), [])
            attempts.append(entry.updated_at)

    def card_reattempts(self, organization_id: str, card: str, since: str) -> list[str]:
        return sorted(
            at for at in self.card_attempts.get((organization_id, card), []) if at >= since
        )

    def pending_retries(self, requested_before: str) -> list[Entry]:
        return sorted(
            (
                e
                for e in self.entries.values()
                if e.status is Status.RETRY_PENDING
                and e.retry
                and e.retry.requested_at < requested_before
            ),
            key=lambda e: e.retry.requested_at if e.retry else "",
        )

    def outbox(self, older_than: str) -> list[BusEvent]:
        return [e for e in self.outbox_events if e.at < older_than]

    def published(self, events: Sequence[BusEvent]) -> None:
        self.outbox_events = [e for e in self.outbox_events if e not in events]

    def get(self, organization_id: str, entry_id: str) -> Entry:
        try:
            return self.entries[(organization_id, entry_id)]
        except KeyError:
            raise NotFound(f"no transaction {entry_id}") from None

    def get_with_audit(self, organization_id: str, entry_id: str) -> tuple[Entry, list[AuditEvent]]:
        entry = self.get(organization_id, entry_id)
        return entry, list(self.audit.get((organization_id, entry_id), []))

    def list_open(
        self, organization_id: str, where: EntryFilter, limit: int, after: Position | None
    ) -> Page:
        ordered = sorted(
            (
                e
                for (org, _), e in self.entries.items()
                if org == organization_id and where.matches(e)
            ),
            key=lambda e: (e.failed_at, e.id),
            reverse=True,
        )
        if after is not None:
            ordered = [
                e for e in ordered if (e.failed_at, e.id) < (after.failed_at, after.entry_id)
            ]
        page = ordered[:limit]
        more = len(ordered) > limit
        return Page(page, Position(page[-1].failed_at, page[-1].id) if more else None)


@dataclass
class InMemoryBillingStore:
    """Organizations, scheduled payments and card records, read and written as the DynamoDB store
    does (the use case plans, app/billing_events.py). `expiring` lists what CardsByExpiry would
    hold, read at once."""

    organizations_by_id: dict[str, Organization] = field(default_factory=dict)
    scheduled_payments: dict[tuple[str, str], ScheduledPayment] = field(default_factory=dict)
    cards: dict[tuple[str, str], CardRecord] = field(default_factory=dict)
    # Processor account -> the organization that claimed it last (never deleted, as in DynamoDB).
    accounts: dict[str, str] = field(default_factory=dict)
    deliveries: set[tuple[str, str]] = field(default_factory=set)

    def organization(self, organization_id: str) -> Organization | None:
        return self.organizations_by_id.get(organization_id)

    def organizations(self, organization_ids: Sequence[str]) -> dict[str, Organization]:
        return {
            i: self.organizations_by_id[i]
            for i in organization_ids
            if i in self.organizations_by_id
        }

    def scheduled_payment(
        self, organization_id: str, scheduled_payment_id: str
    ) -> ScheduledPayment | None:
        return self.scheduled_payments.get((organization_id, scheduled_payment_id))

    def card(self, organization_id: str, card_id: str) -> CardRecord | None:
        return self.cards.get((organization_id, card_id))

    def organization_for_account(self, account_id: str) -> Organization | None:
        """As the DynamoDB store: the mapping's organization, if its settings still name the
        account."""
        organization_id = self.accounts.get(account_id)
        organization = None if organization_id is None else self.organization(organization_id)
        if organization is None or organization.processor_account_id != account_id:
            return None
        return organization

    def save_organization(self, organization: Organization, delivery: Delivery) -> None:
        self._check(self.organizations_by_id.get(organization.id), organization, delivery)
        self.organizations_by_id[organization.id] = organization
        if organization.processor_account_id is not None:
            self.accounts[organization.processor_account_id] = organization.id
        self.deliveries.add((delivery.endpoint, delivery.webhook_id))

    def read_linked(self, change: LinkedChange) -> LinkedState:
        org = change.organization_id
        current: ScheduledPayment | None = None
        if isinstance(change, ScheduledPayment | ScheduledPaymentEnded):
            payment_id = (
                change.id if isinstance(change, ScheduledPayment) else change.scheduled_payment_id
            )
            current = self.scheduled_payments.get((org, payment_id))
        records = {
            card_id: self.cards.get((org, card_id)) or CardRecord.new(org, card_id)
            for card_id in cards_touched(change, current)
        }
        return LinkedState(current, records, None if current is None else 0)

    def write_linked(self, planned: Plan, read: LinkedState, delivery: Delivery) -> None:
        self._check(None, None, delivery)
        for record in planned.cards:
            self.cards[(record.organization_id, record.card_id)] = record
        if planned.state is not None:
            state = planned.state
            self.scheduled_payments[(state.organization_id, state.id)] = state
        self.deliveries.add((delivery.endpoint, delivery.webhook_id))

    def refuse_stale(self, change: LinkedChange, delivery: Delivery) -> Never:
        self._check(None, None, delivery, stale=True)
        raise AssertionError("unreachable: a stale change always conflicts")

    def expiring(
        self, organization_id: str, month: str, limit: int, after: CardPosition | None
    ) -> ExpiringPage:
        listed = sorted(
            (
                record
                for (org, _), record in self.cards.items()
                if record.expiry_month == month and org == organization_id
            ),
            key=lambda r: f"{r.organization_id}#{r.card_id}",
        )
        if after is not None:
            start = f"{after.organization_id}#{after.card_id}"
            listed = [r for r in listed if f"{r.organization_id}#{r.card_id}" > start]
        page, more = listed[:limit], len(listed) > limit
        items = []
        for record in page:
            payments = {
                sid: payment
                for sid in record.linked_schedules
                if (payment := self.scheduled_payments.get((record.organization_id, sid)))
            }
            card = expiring_card(record, month, payments)
            assert card is not None
            items.append(card)
        last = page[-1] if more and page else None
        return ExpiringPage(
            items, None if last is None else CardPosition(last.organization_id, last.card_id)
        )

    def organizations_expiring(self, month: str) -> list[str]:
        return sorted({org for (org, _), r in self.cards.items() if r.expiry_month == month})

    def _check(
        self,
        current: Organization | None,
        change: Organization | None,
        delivery: Delivery,
        *,
        stale: bool = False,
    ) -> None:
        failed = set()
        if (delivery.endpoint, delivery.webhook_id) in self.deliveries:
            failed.add("delivery")
        if stale or (
            current is not None and change is not None and current.state_at > change.state_at
        ):
            failed.add("state")
        if failed:
            raise StoreConflict(frozenset(failed))


@dataclass
class RecordingPublisher:
    """The event bus: keeps what was published; `refuse` makes it fail like PutEvents can."""

    events: list[BusEvent] = field(default_factory=list)
    refuse: bool = False

    def publish(self, events: Sequence[BusEvent]) -> None:
        if self.refuse:
            raise PublishFailed("refused")
        self.events += events


@dataclass
class RecordingQueue:
    sent: list[RetryWork] = field(default_factory=list)
    refuse: bool = False

    def send(self, work: RetryWork) -> None:
        if self.refuse:
            raise QueueUnavailable("refused")
        self.sent.append(work)


@dataclass
class ScriptedProcessor:
    """A processor that answers from a script, keyed by idempotency key like a real one:
    the same key never charges twice. `script` items: an Outcome, or "timeout" / "error"."""

    script: list[object] = field(default_factory=list)
    ledger: dict[str, ChargeResult] = field(default_factory=dict)
    calls: list[ChargeRequest] = field(default_factory=list)
    status_calls: list[ChargeRequest] = field(default_factory=list)

    def charge(self, request: ChargeRequest) -> ChargeResult:
        self.calls.append(request)
        if request.idempotency_key in self.ledger:
            return self.ledger[request.idempotency_key]
        step = self.script.pop(0) if self.script else ChargeOutcome.SUCCEEDED
        if step in ("timeout", "error"):
            raise ProcessorUnavailable(str(step))
        result = ChargeResult(
            ChargeOutcome(step),
            payment_id=f"pay_new_{len(self.ledger) + 1}",
            failure=Failure("card_declined", "Declined") if step == ChargeOutcome.FAILED else None,
        )
        self.ledger[request.idempotency_key] = result
        return result

    refund = charge

    def status(self, request: ChargeRequest) -> ChargeResult | None:
        self.status_calls.append(request)
        return self.ledger.get(request.idempotency_key)

    @property
    def charges(self) -> int:
        """Distinct charges made (a repeated key is the same charge)."""
        return len(self.ledger)


@dataclass
class RecordingMailer:
    """SES: keeps what was sent; an address in `refuse` is refused (MailerError), one in
    `no_answer` gets no answer (MailerOutcomeUnknown), as SesMailer reports them."""

    sent: list[tuple[str, bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    no_answer: set[str] = field(default_factory=set)

    def send(self, sender: str, to: str, email: Email) -> None:
        """Kept as SES would receive it (adapters/aws/mime.py), to be read back as a message."""
        if to in self.refuse:
            raise MailerError(f"Throttling: maximum sending rate exceeded for {to}", "Throttling")
        if to in self.no_answer:
            raise MailerOutcomeUnknown("Read timeout")
        self.sent.append((to, mime_message(email, sender=sender, to=to)))

    def to(self) -> list[str]:
        return sorted(to for to, _ in self.sent)

    def message(self, n: int = 0) -> EmailMessage:
        parsed = message_from_bytes(self.sent[n][1], policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def subjects(self) -> list[tuple[str, str]]:
        return [(to, str(self.message(n)["Subject"])) for n, (to, _) in enumerate(self.sent)]


@dataclass
class InMemorySendLedger:
    """The send ledger with the rules of dynamodb/digest_store.py's claim_send: a claim holds
    ("sending") until the send is marked sent, or released ("failed") to be claimed again."""

    rows: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def claim(self, organization_id: str, period: str, key: str) -> bool:
        if self.rows.get((organization_id, period, key), "failed") != "failed":
            return False
        self.rows[(organization_id, period, key)] = "sending"
        return True

    def sent(self, organization_id: str, period: str, key: str) -> None:
        self.rows[(organization_id, period, key)] = "sent"

    def release(self, organization_id: str, period: str, key: str, error: str) -> None:
        self.rows[(organization_id, period, key)] = "failed"
