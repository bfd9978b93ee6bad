"""The domain: failed transactions (entries), billing state, expiring cards, the table query, errors
and instants. Pure Python: no AWS SDK, no pydantic, no Jinja2 (checked by the contracts in
pyproject.toml)."""
