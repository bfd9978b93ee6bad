"""Key layout of the single table. template.yaml declares the same attribute and index names;
tests/unit/test_table_keys.py checks the two agree.

  entry          pk ORG#<org>                  sk ENTRY#<id>
  audit event    pk ORG#<org>                  sk ENTRY#<id>#AUDIT#<version, 6 digits>
  failure log    pk ORG#<org>#FAILURES         sk <failed_at>#<id>#<attempt>
  delivery       pk DELIVERY#<endpoint>#<id>   sk DELIVERY                 (expires_at: TTL)
  open entries   OpenEntries: open_pk ORG#<org>, open_sk <failed_at>#<id>  (only while open)
"""

PK, SK = "pk", "sk"
OPEN_INDEX, OPEN_PK, OPEN_SK = "OpenEntries", "open_pk", "open_sk"
EXPIRY_INDEX, EXPIRY_PK, EXPIRY_SK = "CardsByExpiry", "expiry_pk", "expiry_sk"
TTL = "expires_at"


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


def delivery(endpoint: str, webhook_id: str) -> str:
    return f"DELIVERY#{endpoint}#{webhook_id}"


def open_sort(failed_at: str, entry_id: str) -> str:
    return f"{failed_at}#{entry_id}"


# Bounds of a failed_at range on open_sk: '#' < '$', and entry ids sort below '~'.
def open_sort_lower(failed_at: str) -> str:
    return f"{failed_at}#"


def open_sort_upper(failed_at: str) -> str:
    return f"{failed_at}#~"
