"""The payment processor adapters. Their port (PaymentProcessor, ChargeRequest, ChargeResult) is in
payment_action_center/ports.py."""
