"""An admin's notification preferences (docs/contract.md §4.2): opting in to the daily digest."""

from pydantic import BaseModel, ConfigDict, StrictBool

from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Caller, Locale
from payment_action_center.domain.errors import InvalidQuery
from payment_action_center.ports import Preferences, PreferencesStore


class PreferencesChange(BaseModel):
    """Body of PUT /me/notification-preferences."""

    model_config = ConfigDict(extra="forbid")

    failed_transactions_digest: StrictBool
    locale: Locale


def current(store: PreferencesStore, caller: Caller, default_locale: Locale) -> Preferences:
    """The caller's preferences, or the defaults: not subscribed, the organization's locale."""
    found = store.preferences(caller.org_id, caller.user_id)
    if found is not None:
        return found
    return Preferences(
        organization_id=caller.org_id,
        user_id=caller.user_id,
        email=caller.email or "",
        failed_transactions_digest=False,
        locale=default_locale,
        updated_at="",
    )


def change(store: PreferencesStore, caller: Caller, wanted: PreferencesChange) -> Preferences:
    """The digest goes to the address in the caller's token: without one, nothing to send to."""
    if wanted.failed_transactions_digest and not caller.email:
        raise InvalidQuery(
            "failed_transactions_digest", "the token carries no email claim to send the digest to"
        )
    saved = Preferences(
        organization_id=caller.org_id,
        user_id=caller.user_id,
        email=caller.email or "",
        failed_transactions_digest=wanted.failed_transactions_digest,
        locale=wanted.locale,
        updated_at=timestamps.now(),
    )
    store.save_preferences(saved)
    return saved
