"""Print the OpenAPI document, generated from the code (`make openapi`): the HTTP API's routes
and, under `webhooks`, the signed events the webhooks function receives."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def document() -> str:
    # Cold start needs its settings; generating the document touches no AWS service.
    for name in (
        "TABLE_NAME",
        "IDEMPOTENCY_TABLE_NAME",
        "RETRY_QUEUE_URL",
        "EVENT_BUS_NAME",
        "UNSUBSCRIBE_SECRET_ARN",
    ):
        os.environ.setdefault(name, "openapi-generation")
    os.environ.setdefault("PROCESSOR", "sandbox")  # the document is the same for each
    os.environ.setdefault("AWS_DEFAULT_REGION", "ca-central-1")
    # The API's route modules are its app.py's siblings, as in Lambda (layers/core: tools/).
    sys.path[:0] = [str(ROOT / "functions" / "api")]
    import app  # type: ignore[import-not-found]

    return str(app.openapi_document())


if __name__ == "__main__":
    sys.stdout.write(document() + "\n")
