"""Adapters for the AWS messaging services: SQS (the work queues), EventBridge (the bus), SES v2
(email)."""
