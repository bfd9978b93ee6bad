"""The HTTP edge: errors as `{"code", "message"}`, the caller from the JWT, webhook signatures and
the webhook wire models, the API's request bodies and response views."""
