"""Outbound network access: what Remit itself fetches from other hosts."""
