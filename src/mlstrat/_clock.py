"""The one clock for times that end up in outputs people compare (report pages, sheets).

``SOURCE_DATE_EPOCH`` (the reproducible-builds convention: seconds since 1970-01-01 UTC) fixes
it, so two renderings of the same inputs are byte-identical and tests never depend on which
minute they ran in. Unset, it is the wall clock in UTC.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ._exceptions import ConfigError

__all__ = ["utc_now"]


def utc_now() -> datetime:
    """The current time in UTC, or ``SOURCE_DATE_EPOCH`` when that is set."""
    fixed = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not fixed:
        return datetime.now(timezone.utc)
    try:
        return datetime.fromtimestamp(int(fixed), timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ConfigError(f"SOURCE_DATE_EPOCH={fixed!r} is not a whole number of seconds since "
                          "1970-01-01 UTC; set it to e.g. 1700000000 or unset it") from None
