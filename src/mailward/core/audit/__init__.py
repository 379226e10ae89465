"""The audit log: append-only events (``subject:action`` tags) and reading them back."""
