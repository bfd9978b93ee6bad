"""Emails: the daily digest of failed transactions (rendered from Jinja2 templates, in fr-CA or
en-CA) and the MIME message that carries an email to SES."""

from payment_action_center.emails.common import Email
from payment_action_center.emails.digest import render_digest
from payment_action_center.emails.mime import mime_message

__all__ = ["Email", "mime_message", "render_digest"]
