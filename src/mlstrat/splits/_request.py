"""One split request, validated before the data is touched: what :func:`~mlstrat.splits.split`
was asked (:class:`SplitSpec`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.splits._policy import SizeRequest, parse_error_rate, parse_request

__all__ = ["SplitSpec"]


@dataclass(frozen=True)
class SplitSpec:
    """One split request, validated: what :func:`split` was asked (see its parameters)."""

    source: str                      # the manifest's name, for messages
    id: str
    label: str | None
    domain: str | None               # "domain" when only a target is given
    target: str | None
    group: str | None
    dev: SizeRequest
    test: SizeRequest
    train_dev: SizeRequest
    salt: str
    content: tuple[str, ...]         # columns whose equal values are the same content
    mix: bool
    resolve: float | None            # error difference dev/test must resolve
    expected_error: float | None
    near: tuple[str, ...] = ()       # columns searched for near-duplicate content across splits

    @property
    def grouped(self) -> bool:
        return self.group is not None

    @classmethod
    def parse(cls, source: str, *, id: str, label: str | None, domain: str | None, target: Any,
              group: str | None, dev_size: Any, test_size: Any, train_dev: Any, salt: Any,
              content: str | Sequence[str] | None, mix: bool, resolve: Any,
              expected_error: Any, near_duplicates: str | Sequence[str] | None = None) -> SplitSpec:
        """Check the options (ConfigError on bad ones) before touching the data."""
        if mix and target is None:
            raise ConfigError("mix=True (--mix) only applies with a target domain (--target VALUE)")
        if not isinstance(salt, str) or salt == "":
            raise ConfigError(f"salt: {salt!r} must be a non-empty text")
        return cls(
            source=source, id=id, label=label,
            domain=(domain or "domain") if target is not None else domain,
            target=None if target is None else str(target), group=group,
            dev=parse_request(dev_size, name="dev_size"), test=parse_request(test_size, name="test_size"),
            train_dev=parse_request(train_dev, name="train_dev", allow_none=True), salt=salt,
            content=tuple(_content_columns(content)), mix=mix,
            resolve=parse_error_rate(resolve, name="resolve") if resolve is not None else None,
            expected_error=(parse_error_rate(expected_error, name="expected_error")
                            if expected_error is not None else None),
            near=tuple(_content_columns(near_duplicates, name="near_duplicates")),
        )


def _content_columns(content: str | Sequence[str] | None, *, name: str = "content") -> list[str]:
    if content is None:
        return []
    cols = [c.strip() for c in content.split(",")] if isinstance(content, str) else [str(c) for c in content]
    cols = [c for c in cols if c]
    if not cols:
        example = "--content sha1 or --content path,size" if name == "content" else "--near-duplicates caption"
        raise ConfigError(f"{name}: no column given (example: {example})")
    return cols
