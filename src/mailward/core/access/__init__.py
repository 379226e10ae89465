"""Who may do what: actors, roles and their rights, and grants that take effect when accepted."""
