"""How results look in a terminal and in Jupyter: short reprs (never a dump of X) and HTML tables.

:class:`Compact` gives a dataclass a one-line ``repr`` in which arrays are shown by shape and first
entries and data sets by name and size, and an ``_repr_html_`` key/value table. :class:`Rows` is a list of
row dicts (per-checkpoint comparisons) that Jupyter shows as a table. Numbers go through
:mod:`biasflow.fmt`.

>>> import numpy as np
>>> short(np.arange(100.0))
'[0, 1, 2, 3, 4, 5, …] (100 values)'
>>> Rows([{"log10_loss": -10.0, "gap": 0.5}])
Rows(1 row: log10_loss, gap)
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping

import numpy as np

from .fmt import log10_text, num


def short(v, k: int = 6) -> str:
    """A value in a few characters: arrays by their first ``k`` entries and size, data sets by name."""
    if v is None or isinstance(v, (bool, str, int)):
        return repr(v)
    if isinstance(v, float):
        return num(v, 4)
    if hasattr(v, "X") and hasattr(v, "task") and hasattr(v, "n"):  # a Dataset
        return f"<{v.task} data {v.name!r}, n={v.n}, d={v.d}>"
    if isinstance(v, np.ndarray) or (isinstance(v, (list, tuple)) and v and isinstance(v[0], (int, float))):
        a = np.asarray(v)
        if a.dtype.kind not in "biuf":
            return f"<array {a.shape}>"
        if a.ndim != 1:
            return f"<array {'×'.join(map(str, a.shape))}>"
        head = ", ".join(num(x, 4) for x in a[:k])
        return f"[{head}{', …' if a.size > k else ''}]" + (f" ({a.size} values)" if a.size > k else "")
    if isinstance(v, Mapping):
        return "{" + ", ".join(list(map(str, v))[:6]) + (", …" if len(v) > 6 else "") + "}"
    if isinstance(v, (list, tuple)):
        return f"<{len(v)} items>"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_level(name: str) -> bool:
    return name.startswith("log10_") and name.endswith("loss")


def _label(name: str) -> str:
    """Column header: a log10 loss column is shown as the loss itself (its cells are formatted so)."""
    return name.removeprefix("log10_") if _is_level(name) else name


def cell(name: str, v) -> str:
    """A table cell: loss levels (``log10_loss``-like columns) as numbers, everything else via :func:`short`."""
    if isinstance(v, (float, np.floating)) and _is_level(name):
        return log10_text(float(v), 4)
    if isinstance(v, (float, np.floating)):
        return num(float(v), 4) if math.isfinite(float(v)) else str(float(v))
    return short(v)


def html_table(columns: list[str], rows: list[Mapping], caption: str = "") -> str:
    """An HTML table (escaped) of ``rows`` restricted to ``columns``."""
    head = "".join(f"<th>{html.escape(_label(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell(c, r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Compact:
    """Mixin for result dataclasses (declared with ``repr=False``): a one-line repr and an HTML table."""

    _hidden: tuple[str, ...] = ()

    def _fields(self):
        for f in dataclasses.fields(self):
            if f.name not in self._hidden:
                yield f.name, getattr(self, f.name)

    def __repr__(self) -> str:
        empty = (dict, list)
        parts = [f"{k}={short(v)}" for k, v in self._fields() if v is not None and not (isinstance(v, empty) and not v)]
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_html_(self) -> str:
        rows = [{"field": k, "value": v} for k, v in self._fields()]
        return html_table(["field", "value"], rows, caption=type(self).__name__)


class Rows(list):
    """A list of row dicts (one per checkpoint) that shows as a table in Jupyter."""

    def columns(self) -> list[str]:
        cols: dict[str, None] = {}
        for r in self:
            cols.update(dict.fromkeys(r))
        return list(cols)

    def __repr__(self) -> str:
        cols = self.columns()
        shown = ", ".join(cols[:8]) + (", …" if len(cols) > 8 else "")
        return f"Rows({len(self)} row{'s' if len(self) != 1 else ''}: {shown})"

    def _repr_html_(self) -> str:
        return html_table(self.columns(), list(self), caption=f"{len(self)} rows")
