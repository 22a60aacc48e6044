"""The live-server fixtures of the API tests, for the policy tests too."""

from tests.api.conftest import admin_client, live, mint, users

__all__ = ["admin_client", "live", "mint", "users"]
