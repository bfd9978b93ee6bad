"""Which processor adapter a function talks to (settings PROCESSOR and STAGE)."""

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from payment_action_center.adapters.processors.sandbox import SandboxProcessor
from payment_action_center.adapters.settings import Settings
from payment_action_center.ports import PaymentProcessor

# The production adapter is still to come; until then only the sandbox exists, for dev stacks.
ProcessorName = Literal["sandbox"]
Stage = Literal["dev", "prod"]

# The sandbox charges nobody and answers "succeeded" to any token it does not know: in
# production it would mark real retries recovered without moving a cent. template.yaml's
# Rules refuse it at deploy time; this refuses it again at cold start.
_CHARGES_NOBODY: frozenset[str] = frozenset({"sandbox"})


class ProcessorSettings(Settings):
    """What a function that charges or looks up payments needs (the retry worker, the watchdog)."""

    stage: Stage = Field(alias="STAGE")
    processor: ProcessorName = Field(alias="PROCESSOR")

    @model_validator(mode="after")
    def _real_processor_in_production(self) -> Self:
        if self.stage == "prod" and self.processor in _CHARGES_NOBODY:
            raise ValueError(
                f"the {self.processor} processor charges nobody and cannot run in the prod stage"
            )
        return self


def processor_for(name: ProcessorName, dynamodb: Any, table_name: str) -> PaymentProcessor:
    if name == "sandbox":
        return SandboxProcessor(dynamodb, table_name)
    raise ValueError(f"unknown processor {name}")
