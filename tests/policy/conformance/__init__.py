"""The OpenID AuthZEN conformance data and the Remit scenarios that answer it."""
