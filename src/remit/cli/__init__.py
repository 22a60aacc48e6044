"""The ``remit`` command line: Typer commands over a local or remote ``Backend``."""
