"""Key layout of the single table. template.yaml declares the same attribute and index names;
tests/unit/infra/test_template.py checks the two agree.

  entry          pk ORG#<org>                  sk ENTRY#<id>
  audit event    pk ORG#<org>                  sk ENTRY#<id>#AUDIT#<version, 6 digits>
  failure log    pk ORG#<org>#FAILURES         sk <failed_at>#<id>#<attempt>
  delivery       pk DELIVERY#<endpoint>#<id>   sk DELIVERY                 (expires_at: TTL)
  recovered pay. pk ORG#<org>                  sk PAYMENT#<new payment id>
  organization   pk ORG#<org>                  sk SETTINGS
  scheduled pay. pk ORG#<org>                  sk SCHEDULED#<scheduled payment id>
  account        pk ACCOUNT#<processor account> sk ACCOUNT   (organization_id: which organization
                 claimed the account last; POST /webhooks/stripe routes by it)
  sandbox charge pk SANDBOX#CHARGES            sk <idempotency key>        (expires_at: TTL)
  card reattempt pk ORG#<org>#CARD#<card>       sk <requested_at>#<id>#<attempt, 4 digits>
                 (expires_at: TTL; one per retry of a card: the networks' 30-day caps count
                 them with one Query, domain/retry_rules.py)
  recovery day   pk ORG#<org>#RECOVERY          sk <UTC date>#<currency>#<entry shard>
                 (daily counters of GET /metrics/recovery, numeric attributes added to with ADD
                 in the transaction of the entry's change, domain/recovery.py; the date is the
                 entry's first failure's, so a range of days is one Query; see below for the
                 shard)
  failures/day   FailuresByDay: failday_pk FAILDAY#<UTC date>#<shard>,
                 failday_sk <org>#<failed_at>#<id>
                 (on the failure-log rows: which organizations the digest looks at)
  preferences    pk ORG#<org>                  sk PREFS#<user sub>
  retry policy   pk ORG#<org>                  sk RETRY_POLICY  (the automatic retry policy,
                 domain/auto_retry.py; absent: off)
  auto-retry org pk AUTORETRY                  sk <org>   (only while the organization's policy is
                 on, written or deleted with it: a copy of the policy and visit_at, when the retry
                 watchdog next visits it; adapters/dynamodb/policy_store.py)
  digest sent    pk DIGEST#<org>#<local date>  sk RCPT#<address>     (once per day and recipient)
  outbox event   pk OUTBOX                     sk <at>#<event id>    (written with its change,
                                                                        deleted once published)
  open entries   OpenEntries: open_pk ORG#<org>, open_sk <failed_at>#<id>  (only while open)
  pending retry  PendingRetries: pending_pk RETRY_PENDING, pending_sk <requested_at>#<org>#<id>
                 (only while a retry is pending: what the watchdog reads)

Write sharding: a partition takes at most 1,000 write units a second, and every failure webhook
(500 a second at the peak, bursts of 1,500) writes a failure-log row to the day's partition of
FailuresByDay; card webhooks likewise gather on a month's partition of CardsByExpiry. So both
index partition keys end in a shard of the organization (`shard`: two digits), spreading the
writes over FAILDAY_SHARDS and EXPIRY_SHARDS partitions while one organization's rows stay in
one (its cards are listed with one Query); a reader of every organization queries each shard.
This spreads many organizations' writes, not one organization's: a single organization still
writes to one partition. The shard is part of the stored index attributes: changing a shard
count means re-keying (rewriting) failday_pk or expiry_pk on every item that carries it, or the
readers miss what was written under the old count.

The recovery counters are sharded too, for another reason: two transactions that touch the same
item at the same time conflict (TransactionConflict: DeliveryInFlight, the webhook is delivered
again), and every failure, recovery and dismissal of an organization adds to its day's counters.
One item per organization and day would make an organization's concurrent failure webhooks
conflict with one another. So the counters of a day are spread over RECOVERY_SHARDS items by a
hash of the entry id (`entry_shard`): two concurrent changes of one organization collide on one
in RECOVERY_SHARDS, and an entry's own changes, which its version check serializes anyway, land
on one item. The reader adds the shards up: a year is still one Query (its pages) of at most
366 x RECOVERY_SHARDS items per currency, only days with activity existing. Changing the count
needs no re-keying: the reader reads whatever shards a day has.
"""

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payment_action_center.domain.entries import BusEvent

PK, SK = "pk", "sk"
OPEN_INDEX, OPEN_PK, OPEN_SK = "OpenEntries", "open_pk", "open_sk"
EXPIRY_INDEX, EXPIRY_PK, EXPIRY_SK = "CardsByExpiry", "expiry_pk", "expiry_sk"
FAILDAY_INDEX, FAILDAY_PK, FAILDAY_SK = "FailuresByDay", "failday_pk", "failday_sk"
PENDING_INDEX, PENDING_PK, PENDING_SK = "PendingRetries", "pending_pk", "pending_sk"
PENDING_PARTITION = "RETRY_PENDING"
TTL = "expires_at"
SETTINGS = "SETTINGS"
ACCOUNT = "ACCOUNT"
SANDBOX_CHARGES = "SANDBOX#CHARGES"
OUTBOX = "OUTBOX"
RETRY_POLICY = "RETRY_POLICY"
AUTORETRY = "AUTORETRY"
# A burst of 1,500 writes a second over 16 shards is under 100 a shard: room for an uneven
# spread (tests/unit/adapters/test_dynamodb_keys.py allows up to twice the mean) and for growth,
# for 16 Queries per read of every organization. Two digits: up to 100 shards.
FAILDAY_SHARDS = 16
EXPIRY_SHARDS = 16
# The recovery counters' shards per organization, day and currency (see the module's docstring).
RECOVERY_SHARDS = 8


def shard(organization_id: str, shards: int) -> str:
    """The organization's shard, "00" up to shards - 1: CRC-32 of its id, the same in every
    process (Python's hash() of a str is salted per process)."""
    return f"{zlib.crc32(organization_id.encode()) % shards:02d}"


def every_shard(shards: int) -> list[str]:
    """Every shard, in order: what a reader of all organizations queries."""
    return [f"{n:02d}" for n in range(shards)]


def organization_in(index_sort_key: str) -> str:
    """The organization a FailuresByDay or CardsByExpiry sort key starts with (<org>#…)."""
    return index_sort_key.split("#", 1)[0]


def org(organization_id: str) -> str:
    return f"ORG#{organization_id}"


def entry(entry_id: str) -> str:
    return f"ENTRY#{entry_id}"


def audit(entry_id: str, version: int) -> str:
    return f"ENTRY#{entry_id}#AUDIT#{version:06d}"


def failure_log(organization_id: str) -> str:
    return f"ORG#{organization_id}#FAILURES"


def failure_log_sort(failed_at: str, entry_id: str, attempt: int) -> str:
    return f"{failed_at}#{entry_id}#{attempt:04d}"


def card_reattempts(organization_id: str, card: str) -> str:
    return f"ORG#{organization_id}#CARD#{card}"


def recovery_days(organization_id: str) -> str:
    return f"ORG#{organization_id}#RECOVERY"


def recovery_day(day: str, currency: str, day_shard: str) -> str:
    return f"{day}#{currency}#{day_shard}"


def entry_shard(entry_id: str) -> str:
    """The recovery counters' shard of an entry: CRC-32 of its id, "00" up to RECOVERY_SHARDS."""
    return f"{zlib.crc32(entry_id.encode()) % RECOVERY_SHARDS:02d}"


def delivery(endpoint: str, webhook_id: str) -> str:
    return f"DELIVERY#{endpoint}#{webhook_id}"


def open_sort(failed_at: str, entry_id: str) -> str:
    return f"{failed_at}#{entry_id}"


# Bounds of a failed_at range on open_sk: '#' < '$', and entry ids sort below '~'.
def open_sort_lower(failed_at: str) -> str:
    return f"{failed_at}#"


def open_sort_upper(failed_at: str) -> str:
    return f"{failed_at}#~"


def processor_account(account_id: str) -> str:
    """The partition of a processor account's mapping to its organization (a Stripe Connect
    `acct_…`): one item, outside every organization's partition, since the account is all a
    Stripe event names."""
    return f"ACCOUNT#{account_id}"


def scheduled_payment(scheduled_payment_id: str) -> str:
    return f"SCHEDULED#{scheduled_payment_id}"


def payment(payment_id: str) -> str:
    return f"PAYMENT#{payment_id}"


def pending_sort(requested_at: str, organization_id: str, entry_id: str) -> str:
    return f"{requested_at}#{organization_id}#{entry_id}"


def outbox_sort(event: "BusEvent") -> str:
    return f"{event.at}#{event.id}"


def failure_day(day: str, day_shard: str) -> str:
    return f"FAILDAY#{day}#{day_shard}"


def preferences(user_id: str) -> str:
    return f"PREFS#{user_id}"


def digest(organization_id: str, local_date: str) -> str:
    return f"DIGEST#{organization_id}#{local_date}"


def recipient(address: str) -> str:
    return f"RCPT#{address}"


# Cards (docs/contract.md §1, expiring cards):
#   card           pk ORG#<org>   sk CARD#<card id>
#   CardsByExpiry: expiry_pk EXPIRY#<YYYY-MM>#<shard>, expiry_sk <org>#<card id>  (only while the
#                  card is in the wallet, not deleted, and linked to an active scheduled payment;
#                  the shard is the organization's, EXPIRY_SHARDS of them: see the module's
#                  docstring)


def card(card_id: str) -> str:
    return f"CARD#{card_id}"


def expiry(month: str, month_shard: str) -> str:
    return f"EXPIRY#{month}#{month_shard}"


def expiry_sort(organization_id: str, card_id: str) -> str:
    return f"{organization_id}#{card_id}"


def expiry_sort_prefix(organization_id: str) -> str:
    return f"{organization_id}#"


def card_notice(organization_id: str, month: str) -> str:
    return f"CARDNOTICE#{organization_id}#{month}"


def card_notice_card(card_id: str) -> str:
    return f"CARD#{card_id}"
