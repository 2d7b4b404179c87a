"""One token formatter and one layer naming, used by text, tables, figures and JSON.

>>> format_tokens(63_500), format_tokens(2_810_000), format_tokens(None)
('63.5k', '2.81M', 'not emerged')
>>> layer_name("blocks.3.hook_resid_post"), layer_name("hook_embed"), layer_name(0)
('3', 'embed', 'embed')
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


def layer_name(layer: int | str) -> str:
    """The layer of a hook as TransformerLens numbers it: ``blocks.3.hook_resid_post`` is ``3``.

    The embedding output (``hook_embed``, stored as layer 0) is ``embed``. An integer is the
    stored ``layer`` column, where 0 is the embedding and ``L + 1`` is block ``L``.
    """
    if isinstance(layer, str):
        m = _BLOCK.match(layer)
        if m:
            return m.group(1)
        if "embed" in layer:
            return "embed"
        return layer
    layer = int(layer)
    return "embed" if layer == 0 else str(layer - 1)


def format_lead_lag(results: Sequence[LeadLag]) -> str:
    """A plain-text table of lead/lag results (one line per skill and representation)."""
    if not results:
        raise CurriculensError("No lead/lag results to format; the run has no probe rows.")
    head = (
        f"{'skill':<20} {'repr':<11} {'layer':>5} {'behavior':>10} {'repr.':>10} "
        f"{'lead(log10)':>12} {'95% CI':>17} {'verdict':<12} {'first':>5}"
    )
    lines = [head]
    for r in results:
        ci = f"[{_f(r.lo_log10)}, {_f(r.hi_log10)}]" if r.n_boot else ""
        lines.append(
            f"{r.skill:<20} {r.representation:<11} {layer_name(r.layer):>5} "
            f"{_t(r.behavior_tokens):>10} "
            f"{_t(r.representation_tokens):>10} {_f(r.lead_log10):>12} {ci:>17} "
            f"{r.verdict:<12} {'' if r.first_layer is None else layer_name(r.first_layer):>5}"
        )
    return "\n".join(lines)


def _f(x) -> str:
    return "-" if x is None else f"{x:+.2f}"


def _t(x) -> str:
    return format_tokens(x, missing="-")
