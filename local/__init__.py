"""The local stack: the real handlers behind a local API Gateway, against DynamoDB Local and moto.

Laptop only: nothing in this package is deployed (docs/contract.md §5).
"""
