"""Unit tests: the domain, the use cases, the adapters and the handlers, with no network.
AWS calls go to moto in-process (tests/shared/moto_aws.py); sockets are refused."""

from tests.shared.moto_aws import aws, no_network

__all__ = ["aws", "no_network"]
