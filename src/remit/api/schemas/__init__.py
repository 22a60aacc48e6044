"""Pydantic request and response models of the HTTP API (the only place pydantic meets the wire)."""
