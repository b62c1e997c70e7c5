"""Numbers as a person writes them: one formatter for every status line, table and message.

Loss levels are carried as log10 values (they may be far below the float64 range), so the main function,
:func:`log10_text`, formats a number *given by its log10*: ``1.5e-31`` rather than ``1e-30.82``, and
``10^-1000000000`` rather than ``1e-1e+09``. :func:`num` formats an ordinary float, :func:`duration`
a time in seconds.

>>> log10_text(-30.82), log10_text(-10000.0), log10_text(-1e9), log10_text(0.0)
('1.51e-31', '1e-10000', '10^-1000000000', '1')
>>> num(0.000123456), num(123456789.0), num(3.0), num(float("nan"))
('0.000123', '1.23e+08', '3', 'nan')
>>> duration(0.25), duration(75.0), duration(7260.0)
('0.2 s', '1 min 15 s', '2 h 1 min')
"""

from __future__ import annotations

import math

_HUGE = 6
"""Exponents with more digits than this are written 10^k (a mantissa is then meaningless in float64)."""


def log10_text(log10_value: float, digits: int = 3) -> str:
    """The number 10**log10_value, written with ``digits`` significant digits, never formed as a float.

    Powers of ten print as ``1e-k``, or ``10^-k`` when k has more than six digits (``1e-1e+09`` is what a
    float formatter would make of it); other values as ``m e k`` with the mantissa m in [1, 10). This is
    how loss levels are written everywhere (``str(Level)``), and :class:`biasflow.levels.Level` reads every
    form back.

    >>> log10_text(-2.0), log10_text(-2.3), log10_text(2.0), log10_text(-0.5), log10_text(-1.0)
    ('1e-2', '5.01e-3', '1e2', '3.16e-1', '1e-1')
    >>> log10_text(float("-inf")), log10_text(float("inf")), log10_text(float("nan"))
    ('0', 'inf', 'nan')
    >>> log10_text(-2.9999999999999)   # rounds up to the next power of ten
    '1e-3'
    """
    v = float(log10_value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "0" if v < 0 else "inf"
    if abs(v) >= 10**_HUGE and abs(v - round(v)) < 1e-9 * abs(v):
        return f"10^{int(round(v))}"
    e = math.floor(v)
    mant = float(f"{10 ** (v - e):.{digits}g}")
    if mant >= 10.0:
        mant, e = 1.0, e + 1
    text = f"{mant:.{digits}g}"
    if e == 0:
        return text
    return f"{text}e{e}"


def num(x: float, digits: int = 3) -> str:
    """A float with ``digits`` significant digits: plain decimals between 1e-4 and 1e6, else ``1.5e-31``.

    >>> num(1.5e-31), num(-2.5), num(1e6), num(0.0), num(float("-inf"))
    ('1.5e-31', '-2.5', '1e+06', '0', '-inf')
    """
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if 1e-4 <= abs(x) < 1e6:
        return f"{x:.{digits}g}"
    m, e = f"{x:.{digits - 1}e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e):+03d}" if abs(int(e)) < 100 else f"{m}e{int(e):+d}"


def duration(seconds: float) -> str:
    """A duration for a status line: ``0.2 s``, ``12 s``, ``1 min 15 s``, ``2 h 1 min``.

    >>> duration(12.4), duration(3600.0), duration(float("nan"))
    ('12 s', '1 h 0 min', '?')
    """
    s = float(seconds)
    if not math.isfinite(s) or s < 0:
        return "?"
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        m, r = divmod(int(round(s)), 60)
        return f"{m} min {r} s"
    h, r = divmod(int(round(s)), 3600)
    return f"{h} h {r // 60} min"
