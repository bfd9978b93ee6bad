"""Entries and audit events to DynamoDB items and back (plain attribute maps, no boto3)."""

from decimal import Decimal
from typing import Any

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.domain.entries import (
    AccountHolder,
    Actor,
    AuditEvent,
    BusEvent,
    Entry,
    EntryType,
    Failure,
    InvoiceItem,
    Method,
    Network,
    PaymentKind,
    PaymentMethod,
    RetryState,
    Status,
    fold,
)


def entry_item(entry: Entry) -> dict[str, Any]:
    item: dict[str, Any] = {
        keys.PK: keys.org(entry.organization_id),
        keys.SK: keys.entry(entry.id),
        "entity": "entry",
        "id": entry.id,
        "organization_id": entry.organization_id,
        "type": entry.type.value,
        "kind": entry.kind.value,
        "method": entry.method.value,
        "status": entry.status.value,
        "amount": entry.amount,
        "currency": entry.currency,
        "holder_id": entry.account_holder.id,
        "holder_name": entry.account_holder.name,
        "holder_email": entry.account_holder.email,
        "holder_name_folded": fold(entry.account_holder.name),
        "payment_id": entry.payment_id,
        "payment_id_folded": fold(entry.payment_id),
        "payment_method": payment_method_item(entry.payment_method),
        "failure_code": entry.failure.code,
        "failure_message": entry.failure.message,
        "failed_at": entry.failed_at,
        "attempts": entry.attempts,
        "invoice_items": [
            {"invoice_id": i.invoice_id, "item_id": i.item_id, "amount": i.amount}
            for i in entry.invoice_items
        ],
        "received_at": entry.received_at,
        "updated_at": entry.updated_at,
        "state_at": entry.state_at,
        "payment_method_at": entry.payment_method_at,
        "version": entry.version,
        "auto_attempts": entry.auto_attempts,
        "in_figures": True if entry.in_figures else None,
    }
    if entry.first_failed_at:
        item["first_failed_at"] = entry.first_failed_at
    if entry.auto_stopped is not None:
        item["auto_stopped"] = entry.auto_stopped
    if entry.scheduled_payment_id is not None:
        item["scheduled_payment_id"] = entry.scheduled_payment_id
    item |= failure_details_item(entry.failure)
    if entry.recovered_payment_id is not None:
        item["recovered_payment_id"] = entry.recovered_payment_id
    if entry.retry is not None:
        item["retry"] = _retry_item(entry.retry)
    if entry.retry is not None and entry.status is Status.RETRY_PENDING:
        # The watchdog's sparse index: only entries with a retry in flight.
        item[keys.PENDING_PK] = keys.PENDING_PARTITION
        item[keys.PENDING_SK] = keys.pending_sort(
            entry.retry.requested_at, entry.organization_id, entry.id
        )
    if entry.status.is_open:
        # The sparse index holds open entries only: the table view never reads closed ones.
        item[keys.OPEN_PK] = keys.org(entry.organization_id)
        item[keys.OPEN_SK] = keys.open_sort(entry.failed_at, entry.id)
    return item


def entry_from(item: dict[str, Any]) -> Entry:
    method = item["payment_method"]
    return Entry(
        id=item["id"],
        organization_id=item["organization_id"],
        type=EntryType(item["type"]),
        kind=PaymentKind(item["kind"]),
        method=Method(item["method"]),
        status=Status(item["status"]),
        amount=int(item["amount"]),
        currency=item["currency"],
        account_holder=AccountHolder(item["holder_id"], item["holder_name"], item["holder_email"]),
        payment_id=item["payment_id"],
        payment_method=payment_method_from(method),
        failure=failure_from(item),
        failed_at=item["failed_at"],
        attempts=int(item["attempts"]),
        invoice_items=tuple(
            InvoiceItem(i["invoice_id"], i["item_id"], int(i["amount"]))
            for i in item["invoice_items"]
        ),
        scheduled_payment_id=item.get("scheduled_payment_id"),
        received_at=item["received_at"],
        updated_at=item["updated_at"],
        state_at=item["state_at"],
        version=int(item["version"]),
        retry=_retry_from(item["retry"]) if "retry" in item else None,
        recovered_payment_id=item.get("recovered_payment_id"),
        payment_method_at=item.get("payment_method_at", ""),
        auto_attempts=int(item.get("auto_attempts", 0)),
        in_figures=bool(item.get("in_figures", False)),
        first_failed_at=item.get("first_failed_at", ""),
        auto_stopped=item.get("auto_stopped"),
    )


def _retry_item(retry: RetryState) -> dict[str, Any]:
    fields = {
        "attempt": retry.attempt,
        "requested_at": retry.requested_at,
        "requested_by": _actor_item(retry.requested_by),
        "charge_sent_at": retry.charge_sent_at,
        "charged_method": retry.charged_method.value if retry.charged_method else None,
        "processor_account": retry.processor_account,
        "processor_payment_id": retry.processor_payment_id,
        "awaiting": retry.awaiting,
        "needs_attention": retry.needs_attention,
        "method_changed": True if retry.method_changed else None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _retry_from(item: dict[str, Any]) -> RetryState:
    return RetryState(
        attempt=int(item["attempt"]),
        requested_at=item["requested_at"],
        requested_by=_actor_from(item["requested_by"]),
        charge_sent_at=item.get("charge_sent_at"),
        charged_method=Method(item["charged_method"]) if "charged_method" in item else None,
        processor_account=item.get("processor_account"),
        processor_payment_id=item.get("processor_payment_id"),
        awaiting=item.get("awaiting"),
        needs_attention=item.get("needs_attention"),
        method_changed=bool(item.get("method_changed", False)),
    )


def _actor_item(actor: Actor) -> dict[str, Any]:
    fields = {"type": actor.type, "id": actor.id, "email": actor.email}
    return {k: v for k, v in fields.items() if v is not None}


def _actor_from(item: dict[str, Any]) -> Actor:
    return Actor(type=item["type"], id=item.get("id"), email=item.get("email"))


def audit_item(entry: Entry, event: AuditEvent) -> dict[str, Any]:
    return {
        keys.PK: keys.org(entry.organization_id),
        keys.SK: keys.audit(entry.id, entry.version),
        "entity": "audit",
        "entry_id": entry.id,
        "at": event.at,
        "action": event.action,
        "actor": _actor_item(event.actor),
        "detail": event.detail,
    }


def audit_from(item: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        at=item["at"],
        action=item["action"],
        actor=_actor_from(item["actor"]),
        detail=_plain(item.get("detail", {})),
    )


def failure_details_item(failure: Failure) -> dict[str, str]:
    """What the network or the bank said of a failure, when the processor passed it on: written
    only when present (an entry written before these existed has none)."""
    values = {
        "network": failure.network.value if failure.network else None,
        "network_decline_code": failure.network_decline_code,
        "advice_code": failure.advice_code,
        "return_code": failure.return_code,
    }
    return {f"failure_{name}": value for name, value in values.items() if value is not None}


def failure_from(item: dict[str, Any]) -> Failure:
    network = item.get("failure_network")
    return Failure(
        item["failure_code"],
        item["failure_message"],
        network=Network(network) if network else None,
        network_decline_code=item.get("failure_network_decline_code"),
        advice_code=item.get("failure_advice_code"),
        return_code=item.get("failure_return_code"),
    )


def failure_log_item(entry: Entry, expires_at: int) -> dict[str, Any]:
    """One row per failure (first or after a retry): what the daily digest lists."""
    return {
        keys.PK: keys.failure_log(entry.organization_id),
        keys.SK: keys.failure_log_sort(entry.failed_at, entry.id, entry.attempts),
        "entity": "failure",
        "entry_id": entry.id,
        "failed_at": entry.failed_at,
        "attempt": entry.attempts,
        "type": entry.type.value,
        "amount": entry.amount,
        "currency": entry.currency,
        "holder_id": entry.account_holder.id,
        "holder_name": entry.account_holder.name,
        "payment_id": entry.payment_id,
        "method": entry.method.value,
        "failure_code": entry.failure.code,
        **failure_details_item(entry.failure),
        keys.FAILDAY_PK: keys.failure_day(
            entry.failed_at[:10], keys.shard(entry.organization_id, keys.FAILDAY_SHARDS)
        ),
        keys.FAILDAY_SK: f"{entry.organization_id}#{entry.failed_at}#{entry.id}",
        keys.TTL: expires_at,
    }


def card_reattempt_item(entry: Entry, card: str, expires_at: int) -> dict[str, Any]:
    """A retry of the card (domain/retry_rules.py `card_of`), requested at `entry.updated_at`:
    what the networks' caps per card and 30 days count."""
    return {
        keys.PK: keys.card_reattempts(entry.organization_id, card),
        keys.SK: f"{entry.updated_at}#{entry.id}#{entry.attempts:04d}",
        "entity": "card_reattempt",
        "entry_id": entry.id,
        "requested_at": entry.updated_at,
        keys.TTL: expires_at,
    }


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers stay integers in JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def recovered_payment_item(entry: Entry, occurred_at: str) -> dict[str, Any]:
    """The new payment, allocated to the invoice items the failed one was for."""
    assert entry.recovered_payment_id is not None
    return {
        keys.PK: keys.org(entry.organization_id),
        keys.SK: keys.payment(entry.recovered_payment_id),
        "entity": "recovered_payment",
        "payment_id": entry.recovered_payment_id,
        "entry_id": entry.id,
        "replaces_payment_id": entry.payment_id,
        "amount": entry.amount,
        "currency": entry.currency,
        "occurred_at": occurred_at,
        "allocation": [
            {"invoice_id": i.invoice_id, "item_id": i.item_id, "amount": i.amount}
            for i in entry.invoice_items
        ],
    }


def outbox_item(event: BusEvent) -> dict[str, Any]:
    return {
        keys.PK: keys.OUTBOX,
        keys.SK: keys.outbox_sort(event),
        "entity": "outbox",
        "id": event.id,
        "at": event.at,
        "detail_type": event.detail_type,
        "detail": event.detail,
    }


def outbox_from(item: dict[str, Any]) -> BusEvent:
    return BusEvent(
        id=item["id"], at=item["at"], detail_type=item["detail_type"], detail=_plain(item["detail"])
    )


def payment_method_item(method: PaymentMethod) -> dict[str, str]:
    """A payment method as entries and scheduled payments keep it: the fields it has."""
    fields = {
        "token": method.token,
        "card_id": method.card_id,
        "brand": method.brand,
        "last4": method.last4,
        "customer_id": method.customer_id,
    }
    return {name: value for name, value in fields.items() if value is not None}


def payment_method_from(item: dict[str, Any]) -> PaymentMethod:
    return PaymentMethod(
        item["token"],
        item.get("card_id"),
        item.get("brand"),
        item.get("last4"),
        item.get("customer_id"),
    )
