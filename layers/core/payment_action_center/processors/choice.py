"""Which processor adapter a function talks to (setting PROCESSOR)."""

from typing import Any, Literal

from payment_action_center.processors import PaymentProcessor
from payment_action_center.processors.sandbox import SandboxProcessor

# The production adapter is a later issue; until then every stage uses the sandbox.
ProcessorName = Literal["sandbox"]


def processor_for(name: ProcessorName, dynamodb: Any, table_name: str) -> PaymentProcessor:
    if name == "sandbox":
        return SandboxProcessor(dynamodb, table_name)
    raise ValueError(f"unknown processor {name}")
