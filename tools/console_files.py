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
