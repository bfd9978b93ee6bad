"""DynamoDB adapters: the one table of design §3 (its keys are declared in template.yaml)."""
