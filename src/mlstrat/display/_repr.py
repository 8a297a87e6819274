"""One notebook display for every result object, written once."""

from __future__ import annotations

from typing import Any

from mlstrat.display._notebook import html_repr, text_repr

__all__ = ["NotebookRepr"]


class NotebookRepr:
    """Gives a result class a short ``repr`` and Jupyter's ``_repr_html_``, both drawn from its
    ``to_dict()`` by the renderer registered for the class name in :mod:`mlstrat.display._notebook`.

    ``@dataclass`` writes its own ``__repr__`` unless the class body defines one, so the two
    methods are copied into each subclass's own namespace when the subclass is created
    (before the decorator runs), and the dataclass keeps them.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__repr__ = NotebookRepr.__repr__  # type: ignore[method-assign]
        cls._repr_html_ = NotebookRepr._repr_html_  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return text_repr(self)

    def _repr_html_(self) -> str:
        return html_repr(self)
