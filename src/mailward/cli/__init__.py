"""The ``mailward`` command: the operator's tool, acting with full rights."""
