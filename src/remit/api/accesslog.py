"""The HTTP access log prints no credential.

uvicorn writes one access line per request with the request's target, path and query string. Remit reads no
credential from a query string, but a client may still send one there (``GET /v1/agents?access_token=...``, a
misconfigured OAuth client posting ``client_secret`` in the URL), and the line would keep it. ``install`` adds a
filter to the ``uvicorn.access`` logger, once, that rewrites every line before any handler sees it:

* a query parameter whose name says it is a credential (``remit.audit.secrets.credential_name`` with its URL
  names: ``access_token``, ``token``, ``client_secret``, ``code``, ``assertion``, ``client_assertion``,
  ``subject_token``, ``actor_token``, ``password``, ``api_key``, ``key``, ``sig``, ...; percent-encoded names
  too) keeps its name, and its value shows as ``[masked:secret]``;
* anything else shaped like a credential, in the path or in another parameter's value (a JWT, ``remit_adm_...``),
  is masked as the audit log masks it (``remit.audit.secrets.mask_text``).

The filter is on the logger, so it applies whatever handlers and format a deployment configures; ``create_app``
installs it, so every server of the app has it (``remit serve``, or uvicorn started on the factory).
"""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import unquote_plus

from remit.audit.secrets import MARK, credential_name, mask_text

#: the logger uvicorn writes its access lines to
ACCESS_LOGGER: Final = "uvicorn.access"
_MASKED: Final = f"{MARK}secret]"


def redact_target(target: str) -> str:
    """A request target (path and query string) with its credentials masked (see the module)."""
    path, question, query = target.partition("?")
    path = mask_text(path)
    if not question:
        return path
    params = []
    for param in query.split("&"):
        name, equals, value = param.partition("=")
        if equals and value and credential_name(unquote_plus(name).strip(), in_url=True):
            params.append(f"{name}={_MASKED}")
        else:
            params.append(mask_text(param))
    return f"{path}?{'&'.join(params)}"


class RedactCredentials(logging.Filter):
    """Masks the credentials in an access line's arguments (uvicorn passes the target as one of them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(redact_target(a) if isinstance(a, str) else a for a in args)
        elif not args and isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        return True


def install(logger_name: str = ACCESS_LOGGER) -> None:
    """Add ``RedactCredentials`` to the logger unless it has one already."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactCredentials) for f in logger.filters):
        logger.addFilter(RedactCredentials())
