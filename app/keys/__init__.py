"""API keys: format, hashing, verification and lifecycle. No Flask views live here."""
