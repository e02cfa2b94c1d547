"""Storage and tracking URLs as the suite shows them: never with their password.

A PostgreSQL URL for a team's Optuna storage or MLflow server carries a password
(``postgresql://bench:s3cret@db/optuna``). Every place that prints, logs as an MLflow
parameter or writes a URL into a report goes through :func:`redact_url`, so the secret stays
in the user's shell history and environment, never in the tracking database.
"""

from __future__ import annotations

import importlib
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


# SQLAlchemy dialect[+driver] -> (module to import, what to install). A bare dialect means
# SQLAlchemy's default driver for it.
DRIVERS = {
    "postgresql": ("psycopg2", "pip install 'deiii-bench[postgres]' (or: pip install psycopg2-binary)"),
    "postgresql+psycopg2": ("psycopg2", "pip install 'deiii-bench[postgres]' (or: pip install psycopg2-binary)"),
    "postgresql+psycopg": ("psycopg", "pip install 'psycopg[binary]'"),
    "postgresql+pg8000": ("pg8000", "pip install pg8000"),
}


def database_url(url: str) -> str:
    """``postgresql://…`` with the driver this project installs spelled out (psycopg2).

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3, which the ``postgres`` extra
    does not install; naming the driver keeps the README's URLs working. A URL that names its
    driver (``postgresql+psycopg://``) is left as it is.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("postgresql", "postgres"):
        return f"postgresql+psycopg2://{rest}"
    return url


def require_driver(url: str | None, where: str) -> None:
    """Raise a ConfigError naming the package to install when ``url`` needs a missing DB driver.

    ``where`` names the setting (``--storage``, ``--tracking-uri``). Without this check a
    PostgreSQL URL on a machine without psycopg2 ends in a SQLAlchemy traceback deep inside
    Optuna or MLflow; the same helper serves the Optuna storage and the MLflow tracking URI.
    """
    if not url or "://" not in url:
        return
    dialect = url.split("://", 1)[0].lower()
    if dialect not in DRIVERS:
        return
    module, install = DRIVERS[dialect]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        from bench.errors import ConfigError

        raise ConfigError(
            f"{where} {redact_url(url)}: the PostgreSQL driver {module!r} is not installed ({exc}); "
            f"install it with: {install}"
        ) from None
