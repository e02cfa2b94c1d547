"""Storage and tracking URLs as the suite shows them: never with their password.

A PostgreSQL URL for a team's Optuna storage or MLflow server carries a password
(``postgresql://bench:s3cret@db/optuna``). Every place that prints, logs as an MLflow
parameter or writes a URL into a report goes through :func:`redact_url`, so the secret stays
in the user's shell history and environment, never in the tracking database.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def redact_url(url: str | None) -> str:
    """``postgresql://bench:pw@host:5432/db`` -> ``postgresql://bench:***@host:5432/db``.

    URLs without a password, file paths and ``journal:`` specs come back unchanged; a
    ``password=`` query parameter is masked too.
    """
    if not url:
        return url or ""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return re.sub(r"(//[^:/@]*:)[^@/]*@", rf"\1{MASK}@", text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        netloc = f"{userinfo}@{host}"
    query = re.sub(r"(?i)(password=)[^&]*", rf"\1{MASK}", parts.query)
    if netloc == parts.netloc and query == parts.query:
        return text
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, *urls: str | None) -> str:
    """``text`` with every given URL replaced by its redacted form (error messages quote them)."""
    for url in urls:
        if url:
            text = text.replace(str(url), redact_url(url))
    return text
