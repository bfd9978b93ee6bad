"""Use cases: what each event and each admin action does, orchestrating the domain through the
ports (payment_action_center/ports.py). No adapter is imported here."""
