"""sim: to come (see the open issues)."""
