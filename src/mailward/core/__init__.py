"""Use cases and rules. Imports no web, CLI or mail-server code."""
