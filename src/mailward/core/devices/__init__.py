"""Device passwords: adding, replacing, revoking; their views; chosen passwords; the change feed."""
