"""ml_collections configs, one file per method (and target)."""
