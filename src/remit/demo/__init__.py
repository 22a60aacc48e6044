"""A realistic demo estate for ``remit demo``: owners, apps, MCP servers and tools, roles and agents."""
