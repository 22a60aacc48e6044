"""Token service: issuing, verifying, keys, OAuth errors."""
