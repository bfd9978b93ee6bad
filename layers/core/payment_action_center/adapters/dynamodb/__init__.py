"""DynamoDB adapters: the one table of docs/contract.md §3 (its keys are declared in
template.yaml)."""
