"""An admin's notification preferences (docs/contract.md §4.2): opting in to the daily digest, and
out again, from the console or by the digest's signed one-click link."""

import hashlib
import hmac
from dataclasses import replace

from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import DEFAULT_LOCALE, Caller, Locale
from payment_action_center.domain.errors import Forbidden, InvalidQuery
from payment_action_center.ports import BillingStore, Preferences, PreferencesStore


def default_locale(billing: BillingStore, organization_id: str) -> Locale:
    """The organization's locale until the admin picks one."""
    organization = billing.organization(organization_id)
    return organization.locale if organization is not None else DEFAULT_LOCALE


def current(store: PreferencesStore, billing: BillingStore, caller: Caller) -> Preferences:
    """The caller's preferences, or the defaults: not subscribed, the organization's locale."""
    found = store.preferences(caller.org_id, caller.user_id)
    if found is not None:
        return found
    return Preferences(
        organization_id=caller.org_id,
        user_id=caller.user_id,
        email=caller.email or "",
        failed_transactions_digest=False,
        locale=default_locale(billing, caller.org_id),
        updated_at="",
    )


def change(
    store: PreferencesStore, caller: Caller, *, failed_transactions_digest: bool, locale: Locale
) -> Preferences:
    """The digest goes to the address in the caller's token: without one, nothing to send to."""
    if failed_transactions_digest and not caller.email:
        raise InvalidQuery(
            "failed_transactions_digest", "the token carries no email claim to send the digest to"
        )
    saved = Preferences(
        organization_id=caller.org_id,
        user_id=caller.user_id,
        email=caller.email or "",
        failed_transactions_digest=failed_transactions_digest,
        locale=locale,
        updated_at=timestamps.now(),
    )
    store.save_preferences(saved)
    return saved


def unsubscribe_signature(key: bytes, organization_id: str, user_id: str) -> str:
    """What the digest's one-click link carries (`s`) for this admin of this organization."""
    return hmac.new(key, f"{organization_id}\x1f{user_id}".encode(), hashlib.sha256).hexdigest()


def unsubscribe(
    store: PreferencesStore, key: bytes, organization_id: str, user_id: str, signature: str
) -> None:
    """Opt this admin out of the digest (RFC 8058: no sign-in, the link is signed). Saying it
    again changes nothing; a link whose signature does not match is Forbidden."""
    expected = unsubscribe_signature(key, organization_id, user_id)
    # As bytes: compare_digest refuses str with non-ASCII characters, which a link may carry.
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogatepass")):
        raise Forbidden("this unsubscribe link is not valid")
    found = store.preferences(organization_id, user_id)
    if found is not None and found.failed_transactions_digest:
        store.save_preferences(
            replace(found, failed_transactions_digest=False, updated_at=timestamps.now())
        )
