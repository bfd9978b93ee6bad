"""The SES v2 adapter of the Mailer port: the daily digest and the card notices go out here."""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from payment_action_center.adapters.aws.mime import mime_message
from payment_action_center.ports import Email, MailerError, MailerOutcomeUnknown


class SesMailer:
    """SES v2 SendEmail with a Raw MIME message: both parts and our own headers
    (List-Unsubscribe) go as built."""

    def __init__(self, client: Any, configuration_set: str | None = None) -> None:
        self._client = client
        self._configuration_set = configuration_set or None

    def send(self, sender: str, to: str, email: Email) -> None:
        request: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {"Raw": {"Data": mime_message(email, sender=sender, to=to)}},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            self._client.send_email(**request)
        except ClientError as error:  # SES answered: not accepted
            code = str(error.response.get("Error", {}).get("Code") or "refused")
            raise MailerError(str(error), code=code) from error
        except BotoCoreError as error:  # no answer: it may have been accepted
            raise MailerOutcomeUnknown(str(error)) from error
