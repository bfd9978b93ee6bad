"""What the emails say, per locale. The French follows the help article's wording.

Strings with `{placeholders}` are filled by the templates' `fill` filter, which escapes the values
(never the other way round: a placeholder is ours, a value may be anyone's). Counted phrases are
keyed by CLDR plural category (Babel's `Locale.plural_form`); "other" is the fallback.
"""

# Typographic apostrophes and quotes (U+2019, U+201C, U+201D) are the wording, not typos.
# ruff: noqa: RUF001

from collections.abc import Mapping
from dataclasses import dataclass

from payment_action_center.domain.declines import RecommendedAction
from payment_action_center.domain.entries import EntryType, PaymentKind


@dataclass(frozen=True)
class DigestWording:
    subject: str
    brand: str
    intro: str
    how_to_act: str
    count: Mapping[str, str]
    holder: str
    amount: str
    type: str
    payment_id: str
    failed_at: str
    recommended_action: str
    holder_link: str
    types: Mapping[EntryType, str]
    # The console's `recommended.<action>` messages (console/messages.js), without their
    # "Recommended:" prefix, which the column's header says: the email and the console agree.
    actions: Mapping[RecommendedAction, str]
    manage: str
    more: Mapping[str, str]
    more_link: str
    why: str
    preferences: str
    # French puts a no-break space before a colon.
    colon: str
    # The automatic retries to come (domain/auto_retry.py), while the policy is on: the
    # contract's words (docs/contract.md §4.3), {today}, {tomorrow} and {day_after} filled in.
    scheduled: str = ""
    # The recovery figures of the last {days} days (domain/recovery.py), one line at the top:
    # {recovered} and {failed} amounts, {rate} a percentage.
    recovery: str = ""
    # Between the figures of two currencies, when the organization has more than one.
    recovery_separator: str = " · "


DIGEST: Mapping[str, DigestWording] = {
    "fr-CA": DigestWording(
        subject="Notification importante — Échec de transaction",
        brand="Centre d’action de paiement",
        intro=(
            "Voici les transactions échouées dans les dernières 24 heures pour {organization}, "
            "jusqu’au {window_end}."
        ),
        how_to_act=(
            "Cliquez sur « Gérer mes transactions échouées » ou sur le nom d’un responsable de "
            "compte : vous serez redirigé vers le Centre d’action de paiement, où vous pourrez "
            "réessayer la transaction ou la retirer du tableau."
        ),
        count={"one": "{count} transaction échouée", "other": "{count} transactions échouées"},
        holder="Responsable du compte",
        amount="Montant",
        type="Type de transaction",
        payment_id="Numéro d’identification du paiement",
        failed_at="Date de l’échec",
        recommended_action="Action recommandée",
        holder_link="Transactions de ce responsable",
        types={
            EntryType.CREDIT_CARD_REFUND: "Remboursement par carte de crédit",
            EntryType.ECHECK_PAYMENT: "Paiement par chèque électronique",
            EntryType.INSTALLMENT: "Versement",
            EntryType.SUBSCRIPTION: "Paiement d’abonnement",
        },
        actions={
            RecommendedAction.CHANGE_PAYMENT_METHOD: "Changer le mode de paiement",
            RecommendedAction.RETRY_LATER: "Réessayer plus tard",
            RecommendedAction.WAIT_FOR_PAYDAY: "Attendre le jour de paie, puis réessayer",
            RecommendedAction.FUND_MERCHANT_ACCOUNT: (
                "Approvisionner le compte marchand, puis réessayer"
            ),
            RecommendedAction.REVIEW: "Lire le motif avant d’agir",
        },
        manage="Gérer mes transactions échouées",
        more={"one": "et {count} autre", "other": "et {count} autres"},
        more_link="Les voir dans le Centre d’action de paiement",
        why=(
            "Vous recevez ce courriel quotidien parce que vous êtes le contact de facturation de "
            "{organization} ou un administrateur inscrit aux notifications de transactions "
            "échouées."
        ),
        preferences="Gérer mes préférences de courriel",
        colon="\u00a0:",
        recovery=(
            "{days} derniers jours\u00a0: {recovered} récupérés sur {failed} en échec ({rate})"
        ),
        scheduled=(
            "Nouveaux essais prévus aujourd'hui : {today} · demain : {tomorrow} · "
            "après-demain : {day_after}"
        ),
    ),
    "en-CA": DigestWording(
        subject="Important notification — Transaction failure",
        brand="Payment Action Center",
        intro=(
            "Here are the transactions that failed in the last 24 hours for {organization}, "
            "up to {window_end}."
        ),
        how_to_act=(
            "Click “Manage my failed transactions” or an account holder’s name: you will be "
            "taken to the Payment Action Center, where you can retry the transaction or remove "
            "it from the table."
        ),
        count={"one": "{count} failed transaction", "other": "{count} failed transactions"},
        holder="Account holder",
        amount="Amount",
        type="Transaction type",
        payment_id="Payment ID",
        failed_at="Failed on",
        recommended_action="Recommended action",
        holder_link="This account holder’s transactions",
        types={
            EntryType.CREDIT_CARD_REFUND: "Credit card refund",
            EntryType.ECHECK_PAYMENT: "E-check payment",
            EntryType.INSTALLMENT: "Installment",
            EntryType.SUBSCRIPTION: "Subscription payment",
        },
        actions={
            RecommendedAction.CHANGE_PAYMENT_METHOD: "Change the payment method",
            RecommendedAction.RETRY_LATER: "Retry later",
            RecommendedAction.WAIT_FOR_PAYDAY: "Wait for payday, then retry",
            RecommendedAction.FUND_MERCHANT_ACCOUNT: "Fund the merchant account, then retry",
            RecommendedAction.REVIEW: "Read the reason before acting",
        },
        manage="Manage my failed transactions",
        more={"one": "and {count} more", "other": "and {count} more"},
        more_link="See them in the Payment Action Center",
        why=(
            "You receive this daily email because you are the billing contact for "
            "{organization} or an administrator who signed up for failed transaction "
            "notifications."
        ),
        preferences="Manage email preferences",
        colon=":",
        recovery="Last {days} days: {recovered} recovered of {failed} failed ({rate})",
        scheduled=(
            "Retries scheduled today: {today} · tomorrow: {tomorrow} · the day after: {day_after}"
        ),
    ),
}


@dataclass(frozen=True)
class CardNoticeWording:
    subject: str
    greeting: str
    intro: str
    card: str
    expires: str
    at_stake: str
    kinds: Mapping[PaymentKind, str]
    next_date: str
    amount: str
    update: str
    why: str
    colon: str


CARD_NOTICE: Mapping[str, CardNoticeWording] = {
    "fr-CA": CardNoticeWording(
        subject="Votre carte de crédit expire bientôt",
        greeting="Bonjour {name},",
        intro=(
            "La carte de crédit enregistrée dans votre portefeuille chez {organization} expire "
            "le mois prochain. Des paiements planifiés y sont portés : mettez-la à jour pour "
            "éviter un échec de paiement."
        ),
        card="Carte",
        expires="Expiration",
        at_stake="Paiements planifiés sur cette carte",
        kinds={
            PaymentKind.INSTALLMENT: "Versement",
            PaymentKind.SUBSCRIPTION: "Paiement d’abonnement",
        },
        next_date="Prochain paiement",
        amount="Montant",
        update="Mettre à jour ma carte",
        why="Vous recevez ce courriel parce qu’une carte de votre portefeuille expire bientôt.",
        colon="\u00a0:",
    ),
    "en-CA": CardNoticeWording(
        subject="Your credit card expires soon",
        greeting="Hello {name},",
        intro=(
            "The credit card saved in your wallet with {organization} expires next month. "
            "Scheduled payments are charged to it: update it to avoid a failed payment."
        ),
        card="Card",
        expires="Expires",
        at_stake="Scheduled payments on this card",
        kinds={
            PaymentKind.INSTALLMENT: "Installment",
            PaymentKind.SUBSCRIPTION: "Subscription payment",
        },
        next_date="Next payment",
        amount="Amount",
        update="Update my card",
        why="You receive this email because a card in your wallet expires soon.",
        colon=":",
    ),
}
