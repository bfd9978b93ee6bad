"""Payment Action Center: the domain, its rules and its adapters (the shared Lambda layer)."""
