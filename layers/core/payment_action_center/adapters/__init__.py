"""Adapters: DynamoDB, AWS services (SQS, EventBridge, SES), payment processors, emails and the
HTTP edge. Each implements a port of payment_action_center/ports.py or speaks a wire format."""
