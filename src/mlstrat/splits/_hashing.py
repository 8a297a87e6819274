"""Hashed assignment key (docs/method.md §1): ``u = int(md5(f"{key}:{salt}")[:8], 16) / 2**32``.

The same number comes out of pure Python (:func:`assign_hash`) and out of every engine
(:func:`mlstrat.tables.unit_hash`: an Ibis expression of ``md5``, ``substr`` and a hex
conversion that DuckDB and Spark SQL compile), so any engine reproduces an assignment.
"""

from __future__ import annotations

import hashlib

__all__ = ["DEFAULT_SALT", "assign_hash"]

#: Salt used when none is given; change it to draw a different (equally valid) split.
DEFAULT_SALT = "mlstrat"


def assign_hash(key: object, salt: str = DEFAULT_SALT) -> float:
    """The assignment number ``u`` in [0, 1) of one key.

    Parameters
    ----------
    key : str or int
        The group value when groups are used, else the id; hashed as its text
        (``str(key)``: integers as their decimal digits).
    salt : str, default="mlstrat"
        Mixed into the hash; a different salt gives an independent split.

    Examples
    --------
    >>> assign_hash("a", "b")
    0.8440864447038621
    """
    digest = hashlib.md5(f"{key}:{salt}".encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / 2**32
