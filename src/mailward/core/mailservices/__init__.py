"""Mail Services: one per domain, claimed and proved by DNS."""
