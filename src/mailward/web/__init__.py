"""The web manager: server-rendered pages over the core use cases."""
