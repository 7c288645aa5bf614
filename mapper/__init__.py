"""mapper: to come (see the open issues)."""
