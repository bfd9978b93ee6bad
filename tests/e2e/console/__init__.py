"""The console (console/) in a real browser: chromium driven by Playwright, against the local
stack's gateway (the demo host page at /, local/static.py)."""
