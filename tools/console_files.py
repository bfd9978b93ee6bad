"""The console's files as a browser must receive them: their Content-Type by extension. One table
for the local stack, which serves console/ (local/static.py), and for the deploy, which uploads
it (tools/deploy_console.py): what is tested locally is what is served in AWS. Only these types
are served; with nosniff, a browser refuses a script or a style of another type."""

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

# The standalone host page's configuration (console/host.js reads it as config.json), the same
# in AWS (tools/deploy_console.py) and locally (local/static.py).
HOST_CONFIG_NAME = "config.json"
# What the host page asks the identity provider for: the ID token, with the admin's email.
SIGN_IN_SCOPE = "openid email"


def host_config(api_base: str, issuer: str, client_id: str) -> dict[str, str]:
    """config.json: the API, and the issuer and audience of the HttpApi's JWT authorizer."""
    return {
        "api_base": api_base.rstrip("/"),
        "issuer": issuer,
        "client_id": client_id,
        "scope": SIGN_IN_SCOPE,
    }
