"""One token formatter, one emergence formatter and one layer naming, used by text, tables,
figures and JSON.

>>> format_tokens(63_500), format_tokens(2_810_000), format_tokens(None)
('63.5k', '2.81M', 'not emerged')
>>> format_emergence("emerged", 2_810_000, 1_920_000, 2_810_000)
'2.81M (1.92M, 2.81M]'
>>> layer_name("blocks.3.hook_resid_post"), layer_name("hook_embed"), layer_name(-1), layer_name(0)
('3', 'embed', 'embed', '0')
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from curriculens.errors import CurriculensError

if TYPE_CHECKING:
    from curriculens.analysis.leadlag import LeadLag

_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


def format_tokens(tokens: float | None, *, missing: str = "not emerged") -> str:
    """A token count in three significant digits with a k/M/B/T suffix (``63.5k``, ``2.81M``).

    ``None`` and NaN print as ``missing``; counts under 1,000 print as integers.
    """
    if tokens is None or (isinstance(tokens, float) and math.isnan(tokens)):
        return missing
    t = float(tokens)
    for scale, suffix in _UNITS:
        if abs(t) >= scale:
            return f"{t / scale:.3g}{suffix}"
    return f"{t:.0f}"


def format_interval(lo: float | None, hi: float | None) -> str:
    """An emergence interval ``(lo, hi]`` in tokens; an open end is written with ``<=``/``>``.

    >>> format_interval(None, 2048), format_interval(4.1e6, None), format_interval(1e3, 2e3)
    ('(<= 2.05k)', '(> 4.1M)', '(1k, 2k]')
    """
    if lo is None and hi is None:
        return "(any time)"
    if lo is None:
        return f"(<= {format_tokens(hi)})"
    if hi is None:
        return f"(> {format_tokens(lo)})"
    return f"({format_tokens(lo)}, {format_tokens(hi)}]"


def format_emergence(
    state: str, point: float | None, lo: float | None = None, hi: float | None = None
) -> str:
    """One emergence, state first: ``2.81M (1.92M, 2.81M]``, ``at init (<= 2.05k)``,
    ``not emerged (> 4.1M)``. Without bounds, the point (or the state) alone.

    >>> format_emergence("present_at_init", 2048, None, 2048)
    'at init (<= 2.05k)'
    >>> format_emergence("not_emerged", None)
    'not emerged'
    """
    bounds = "" if lo is None and hi is None else " " + format_interval(lo, hi)
    if state == "present_at_init":
        return "at init" + bounds
    if state == "not_emerged":
        return "not emerged" + bounds
    return format_tokens(point) + bounds


def layer_name(layer: int | str) -> str:
    """The layer of a hook as TransformerLens numbers it: ``blocks.3.hook_resid_post`` is ``3``.

    The embedding output (``hook_embed``, stored as layer -1) is ``embed``. An integer is the
    stored ``layer`` column, the block index itself (-1: the embedding).
    """
    if isinstance(layer, str):
        m = _BLOCK.match(layer)
        if m:
            return m.group(1)
        if "embed" in layer:
            return "embed"
        return layer
    layer = int(layer)
    return "embed" if layer < 0 else str(layer)


def format_lead_lag(results: Sequence[LeadLag]) -> str:
    """A plain-text table of lead/lag results, one line per skill, with the criterion above it."""
    if not results:
        raise CurriculensError("No lead/lag results to format; the run has no probe rows.")
    r0 = results[0]
    margin = f"{r0.margin_log10:.2f}" if r0.margin_log10 is not None else "-"
    head = (
        f"{'skill':<20} {'layer':>5} {'behavior':>20} {'probe selectivity':>20} "
        f"{'lead (log10)':>12} {'95% interval':>16} {'p (Holm)':>8}  verdict"
    )
    lines = [
        f"criterion {r0.criterion} on both curves; behavior: each skill's continuous metric "
        "(target probability or choice accuracy above chance); probe: selectivity (probe - "
        f"control accuracy) at the best layer; equivalence margin {margin} log10 tokens; "
        f"{r0.n_boot} resamples ({r0.resampling})",
        head,
    ]
    for r in results:
        ci = format_lead_interval(r.lo, r.hi)
        p = "" if r.p_holm is None else f"{r.p_holm:.3f}"
        lines.append(
            f"{r.skill:<20} {layer_name(r.layer):>5} "
            f"{format_emergence(r.behavior_state, r.behavior_tokens):>20} "
            f"{format_emergence(r.probe_state, r.probe_tokens):>20} {_f(r.lead_log10):>12} "
            f"{ci:>16} {p:>8}  {r.label}"
        )
    return "\n".join(lines)


def format_lead_interval(lo: float | None, hi: float | None) -> str:
    """A lead interval in log10 tokens; an open end is written as infinity ('' when both are).

    >>> format_lead_interval(0.3, 0.9), format_lead_interval(1.64, None)
    ('(+0.30, +0.90)', '(+1.64, +inf)')
    """
    if lo is None and hi is None:
        return ""
    return f"({'-inf' if lo is None else f'{lo:+.2f}'}, {'+inf' if hi is None else f'{hi:+.2f}'})"


def _f(x) -> str:
    return "-" if x is None else f"{x:+.2f}"
