"""hls_templates: to come (see the open issues)."""
