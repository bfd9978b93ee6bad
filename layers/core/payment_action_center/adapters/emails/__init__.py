"""Emails, rendered from Jinja2 templates in fr-CA or en-CA: the daily digest of failed
transactions (digest.py) and the expiring card notice (card_notice.py). Each renderer is a port of
payment_action_center/ports.py (DigestRenderer, CardNoticeRenderer)."""
