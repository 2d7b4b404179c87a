"""The one emergence criterion: how a score curve becomes an emergence state and a point.

Every emergence shown anywhere (``curriculens emergence``, :func:`~curriculens.analysis.curriculum
.curriculum`, the report, lead/lag, ``optimize``) is read off a curve by a :class:`Criterion`, and
printed beside :meth:`Criterion.describe`. A curve is in one of three states:

- ``emerged``: first meets the criterion at checkpoint ``k > 0``; the crossing lies in the bracket
  ``(tokens[k-1], tokens[k]]``, so its interval never has zero width;
- ``present_at_init``: already meets it at the first checkpoint (left-censored: ``(?, tokens[0]]``);
- ``not_emerged``: never meets it (right-censored: ``(tokens[-1], ?)``).

A ``relative`` criterion measures a **rise** (``rise_from="init"``, the default): the level at
checkpoint ``k`` is ``(v_k - v_0) / (ref - v_0)``, ``v_0`` the (smoothed) first kept checkpoint
(a first level below the floor, 0 or chance, counts as the floor),
``ref`` the curve's maximum or final value; the curve emerges at the first checkpoint whose level
reaches ``fraction``, and only if the rise ``ref - v_0`` is at least ``min_rise`` (a curve that
does not rise is ``not_emerged``). It is ``present_at_init`` only when its first checkpoint is
already ``fraction`` of the way from the floor (0, or ``chance`` when set: scores are rescaled so
that chance is 0) to ``ref`` and at least ``2 x min_rise`` above the floor (clearly there, not a
noise excursion of a test set at chance); a flat curve at the floor never is.
``rise_from="zero"`` is the paper's literal rule (a share of the maximum, from 0).

>>> c = Criterion.preset("paper")
>>> c.locate([0, 1e9, 2e9, 3e9, 4e9], [0.0, 0.0, 0.9, 0.9, 0.9]).state
'emerged'
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import OptimizeWarning, curve_fit

from curriculens.errors import ConfigError, did_you_mean

METHODS = ("fixed", "relative", "stable", "sigmoid")
RELATIVE_TO = ("final", "max")
RISE_FROM = ("init", "zero")
STATES = ("emerged", "present_at_init", "not_emerged")

#: name -> the fields a preset sets (the rest keep the dataclass defaults)
PRESETS: dict[str, dict] = {
    # Liu et al. (2026), the Implicit Curriculum paper, as its public analysis code applies it
    "paper": dict(method="fixed", threshold=0.8, smooth=1.0, drop_zero_tokens=True),
    # the paper's `relative` method read as a rise: half of the way from the first checkpoint's
    # level to the smoothed curve's maximum, no absolute floor; curves whose maximum is <= 0 are
    # dropped. The paper's code takes half of the maximum from 0 (rise_from="zero"), which calls
    # a multiple-choice task at chance "present at init"; see docs/emergence.md
    "paper-relative": dict(
        method="relative",
        threshold=None,
        fraction=0.5,
        relative_to="max",
        smooth=1.0,
        drop_zero_tokens=True,
        drop_flat=True,
    ),
}
DEFAULT = "paper"
#: fields that only some methods read; setting one for another method is an error
_USED_BY = {
    "threshold": ("fixed", "relative", "stable"),
    "fraction": ("relative",),
    "relative_to": ("relative",),
    "window": ("stable",),
    "min_rise": ("sigmoid", "relative"),
    "rise_from": ("relative",),
}


def smooth_curve(values: Sequence[float], sigma: float | None) -> np.ndarray:
    """Gaussian-smooth curves along their last axis (``sigma`` in checkpoints, reflected edges).

    >>> smooth_curve([0.0, 1.0, 0.0], None).tolist()
    [0.0, 1.0, 0.0]
    """
    v = np.asarray(values, dtype=float)
    if not sigma:
        return v
    return gaussian_filter1d(v, sigma=float(sigma), mode="reflect", axis=-1)


def normalize_chance(values: Sequence[float], chance: float) -> np.ndarray:
    """Rescale scores so that ``chance`` maps to 0 and a perfect score to 1.

    >>> normalize_chance([0.25, 0.625, 1.0], 0.25).tolist()
    [0.0, 0.5, 1.0]
    """
    if not 0.0 <= chance < 1.0:
        raise ConfigError(
            f"chance={chance!r} must be in [0, 1) to normalize scores; pass chance=None to skip "
            "normalization."
        )
    return (np.asarray(values, dtype=float) - chance) / (1.0 - chance)


@dataclass(frozen=True)
class Crossing:
    """Where one curve meets a criterion.

    Attributes:
        state: ``emerged``, ``present_at_init`` or ``not_emerged``.
        point: Emergence tokens: the crossing checkpoint (``sigmoid``: the fitted midpoint);
            the first checkpoint for ``present_at_init`` (the paper's convention); None when
            not emerged.
        lower: The crossing lies above this many tokens (the previous checkpoint; None when
            present at init: no lower bound).
        upper: The crossing lies at or below this many tokens (None when not emerged).
        index: Crossing checkpoint among the checkpoints kept (-1 when not emerged).
        flat: The curve never rose above 0 and the criterion drops such curves (``drop_flat``).
    """

    state: str
    point: float | None
    lower: float | None
    upper: float | None
    index: int = -1
    flat: bool = False


@dataclass(frozen=True, kw_only=True)
class Criterion:
    """How to read an emergence point off a curve. Use :meth:`preset` for the named ones.

    Attributes:
        method: ``fixed``: first checkpoint with score >= ``threshold``.
            ``relative``: first checkpoint whose rise above the first checkpoint reaches
            ``fraction`` of the curve's rise to its ``final`` (or ``max``) score, and with score
            >= ``threshold`` (``threshold=None``: no floor); see the module docstring.
            ``stable``: first checkpoint that starts ``window`` consecutive checkpoints all
            >= ``threshold``. ``sigmoid``: midpoint between floor and ceiling of a logistic fit
            in log10(tokens); not emerged when the fitted rise is below ``min_rise`` or the
            midpoint lies past the last checkpoint (``threshold`` is not used).
        threshold: Absolute level (after chance normalization, when ``chance`` is set).
        fraction: Share of the reference score for ``relative``.
        relative_to: ``final`` or ``max``: the reference score of ``relative``.
        chance: When set, scores are first mapped to ``(score - chance) / (1 - chance)``.
        smooth: Gaussian sigma in checkpoints (reflected edges), or None.
        window: Consecutive checkpoints ``stable`` asks for.
        min_rise: Smallest rise accepted as an emergence: ceiling - floor of the ``sigmoid``
            fit; ``relative``: the reference score minus the first checkpoint's
            (``present_at_init`` asks for twice as much of the first checkpoint's level above
            the floor). On the criterion's scale (after chance normalization). Default 0.1:
            about 2.5 standard errors of a difference of two shares of 300 items at 0.5.
        rise_from: ``init`` (a relative level is measured from the first kept checkpoint) or
            ``zero`` (from 0: the paper's code).
        drop_zero_tokens: Leave out checkpoints with tokens <= 0 (the paper's convention).
        drop_flat: A curve whose largest (unsmoothed) score is <= 0 is flagged ``flat``; tables
            drop a task that is flat in every model (the paper's ``relative`` analysis).
        name: The preset this came from (shown in outputs); ``custom`` otherwise.
    """

    method: str = "fixed"
    threshold: float | None = 0.8
    fraction: float = 0.9
    relative_to: str = "final"
    chance: float | None = None
    smooth: float | None = None
    window: int = 3
    min_rise: float = 0.1
    rise_from: str = "init"
    drop_zero_tokens: bool = False
    drop_flat: bool = False
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(
                f"method={self.method!r} is not an emergence method; expected one of {METHODS}."
            )
        if self.relative_to not in RELATIVE_TO:
            raise ConfigError(
                f"relative_to={self.relative_to!r} is not allowed; expected one of {RELATIVE_TO}."
            )
        if self.rise_from not in RISE_FROM:
            raise ConfigError(
                f"rise_from={self.rise_from!r} is not allowed; expected one of {RISE_FROM}."
            )
        if not math.isfinite(self.min_rise) or self.min_rise < 0:
            raise ConfigError(f"min_rise={self.min_rise!r} must be a number >= 0, e.g. 0.1.")
        if self.threshold is None and self.method in ("fixed", "stable"):
            raise ConfigError(
                f"method={self.method!r} needs a threshold, got threshold=None; pass a number "
                "such as threshold=0.8 (a floor is optional only for 'relative' and 'sigmoid')."
            )
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ConfigError(f"threshold={self.threshold!r} must be a finite number, e.g. 0.8.")
        if not 0.0 < self.fraction <= 1.0:
            raise ConfigError(f"fraction={self.fraction!r} must be in (0, 1], e.g. 0.9.")
        if self.smooth is not None and (not math.isfinite(self.smooth) or self.smooth < 0):
            raise ConfigError(
                f"smooth={self.smooth!r} must be a sigma >= 0 in checkpoints, or None."
            )
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise ConfigError(f"window={self.window!r} must be an int >= 1 (checkpoints).")
        if self.chance is not None:
            normalize_chance([], self.chance)  # validates the value

    # ------------------------------------------------------------------ construction
    @classmethod
    def preset(cls, name: str, **overrides) -> Criterion:
        """A named criterion (``paper``, ``paper-relative``), optionally with fields changed.

        Changed fields are named in the result's ``name``.

        >>> Criterion.preset("paper", threshold=0.5).name
        'paper (threshold=0.5)'
        """
        if name not in PRESETS:
            raise ConfigError(
                f"Unknown emergence criterion {name!r}.{did_you_mean(name, PRESETS)} "
                f"Presets: {', '.join(PRESETS)}."
            )
        return cls(**PRESETS[name], name=name).with_fields(**overrides)

    def with_fields(self, **overrides) -> Criterion:
        """This criterion with fields changed; the changes are named in ``name``.

        >>> Criterion.preset("paper").with_fields(smooth=None).name
        'paper (smooth=none)'
        """
        unknown = sorted(set(overrides) - set(self.__dataclass_fields__) - {"name"})
        if unknown:
            raise ConfigError(
                f"criterion fields {unknown} are unknown; expected some of "
                f"{sorted(set(self.__dataclass_fields__) - {'name'})}."
            )
        method = overrides.get("method", self.method)
        for k, v in overrides.items():  # a field given for a method that does not read it
            if k in _USED_BY and method not in _USED_BY[k]:
                raise ConfigError(
                    f"{k}={v!r} does not apply to method {method!r} (it is read by "
                    f"{', '.join(_USED_BY[k])}); drop it, or choose one of those methods."
                )
        changed = {k: v for k, v in overrides.items() if k != "name" and getattr(self, k) != v}
        if not changed:
            return self
        label = ", ".join(f"{k}={'none' if v is None else v}" for k, v in changed.items())
        return replace(self, **changed, name=f"{self.name} ({label})")

    @classmethod
    def of(cls, criterion: Criterion | str | Mapping | None = None, **overrides) -> Criterion:
        """A criterion from an object, a preset name, a dict of fields, or None (``paper``).

        >>> Criterion.of().name, Criterion.of("paper-relative").fraction
        ('paper', 0.5)
        """
        if criterion is None:
            criterion = DEFAULT
        if isinstance(criterion, Criterion):
            return criterion.with_fields(**overrides)
        if isinstance(criterion, str):
            return cls.preset(criterion, **overrides)
        if isinstance(criterion, Mapping):
            fields = dict(criterion) | overrides
            unknown = sorted(set(fields) - set(cls.__dataclass_fields__))
            if unknown:
                raise ConfigError(
                    f"criterion fields {unknown} are unknown; expected some of "
                    f"{sorted(cls.__dataclass_fields__)}."
                )
            return cls(**fields)
        raise ConfigError(
            f"criterion={criterion!r}; expected a Criterion, a preset name "
            f"({', '.join(PRESETS)}) or a dict of its fields."
        )

    def to_dict(self) -> dict:
        """Every field, JSON-ready (``name`` first)."""
        d = asdict(self)
        return {"name": d.pop("name"), **d}

    def describe(self) -> str:
        """The definition in words, printed beside every emergence point.

        >>> Criterion.preset("paper").describe()
        'first checkpoint with smoothed score >= 0.8 (Gaussian sigma = 1 checkpoint, reflected \
edges; 0-token checkpoints dropped)'
        """
        score = "smoothed score" if self.smooth else "score"
        if self.chance is not None:
            score += f" above chance {self.chance:g}, rescaled to [0, 1]"
        if self.method == "fixed":
            rule = f"first checkpoint with {score} >= {self.threshold:g}"
        elif self.method == "stable":
            rule = (
                f"first of {self.window} consecutive checkpoints with {score} >= {self.threshold:g}"
            )
        elif self.method == "relative" and self.rise_from == "zero":
            floor = "no floor" if self.threshold is None else f"and >= {self.threshold:g}"
            rule = (
                f"first checkpoint with {score} >= {self.fraction:g} x its {self.relative_to} "
                f"({floor})"
            )
        elif self.method == "relative":
            floor = "" if self.threshold is None else f", and >= {self.threshold:g}"
            rule = (
                f"first checkpoint with {score} risen {self.fraction:g} of the way from its first "
                f"checkpoint to its {self.relative_to}{floor}; a rise under "
                f"{self.min_rise:g} has not emerged; present at init only when already "
                f"{self.fraction:g} of the way from "
                f"{'chance' if self.chance is not None else 'chance where known, else 0'} "
                f"and {2 * self.min_rise:g} above it"
            )
        else:
            rule = f"midpoint of a logistic fit in log10 tokens (rise >= {self.min_rise:g})"
        notes = []
        if self.smooth:
            notes.append(f"Gaussian sigma = {self.smooth:g} checkpoint, reflected edges")
        if self.drop_zero_tokens:
            notes.append("0-token checkpoints dropped")
        if self.drop_flat:
            notes.append(
                "a curve never above 0 has not emerged; a task flat in every model is dropped"
            )
        return rule + (f" ({'; '.join(notes)})" if notes else "")

    def label(self) -> str:
        """``name: definition``, the one-line form outputs print."""
        return f"{self.name}: {self.describe()}"

    # ------------------------------------------------------------------ reading curves
    def prepare(self, tokens: Sequence[float], values: Sequence[float]):
        """Checkpoints kept and their order: ``(order, tokens)``, ``order`` indexing the input.

        Missing scores (NaN) are left out (a missing checkpoint), as are 0-token checkpoints with
        ``drop_zero_tokens``; the rest is sorted by tokens.
        """
        t = np.asarray(tokens, dtype=float)
        v = np.asarray(values, dtype=float)
        if t.ndim != 1 or t.shape != v.shape:
            raise ConfigError(
                f"tokens {t.shape} and values {v.shape} must be 1-D and of the same length "
                "(one score per checkpoint)."
            )
        keep = np.isfinite(t) & np.isfinite(v)
        if self.drop_zero_tokens:
            keep &= t > 0
        idx = np.flatnonzero(keep)
        order = idx[np.argsort(t[idx], kind="stable")]
        return order, t[order]

    def locate(self, tokens: Sequence[float], values: Sequence[float]) -> Crossing:
        """State, point and bracket of one curve (see the module docstring).

        >>> Criterion(threshold=0.5).locate([1, 2, 3], [0.1, 0.6, 0.9])
        Crossing(state='emerged', point=2.0, lower=1.0, upper=2.0, index=1, flat=False)
        """
        order, t = self.prepare(tokens, values)
        v = np.asarray(values, dtype=float)[order]
        return self.locate_sorted(t, v[None, :])[0]

    def point(self, tokens: Sequence[float], values: Sequence[float]) -> float | None:
        """Emergence tokens of a curve, or None (not emerged). See :class:`Crossing`."""
        return self.locate(tokens, values).point

    def locate_sorted(self, t: np.ndarray, values: np.ndarray) -> list[Crossing]:
        """Crossings of curves ``[curve, checkpoint]`` on sorted, kept checkpoints ``t``."""
        v = self.transform(np.atleast_2d(np.asarray(values, dtype=float)), smooth=False)
        flat = (
            np.nanmax(v, axis=1) <= 0 if self.drop_flat and v.shape[1] else np.zeros(len(v), bool)
        )
        v = smooth_curve(v, self.smooth)
        if not len(t):
            return [Crossing("not_emerged", None, None, None) for _ in v]
        if self.method == "sigmoid":
            return [
                _sigmoid_crossing(t, row, self.min_rise, f) for row, f in zip(v, flat, strict=True)
            ]
        first = self._first_index(v)
        out = []
        for k, f in zip(first.tolist(), flat.tolist(), strict=True):
            if f or k < 0:
                out.append(Crossing("not_emerged", None, float(t[-1]), None, -1, bool(f)))
            elif k == 0:
                out.append(Crossing("present_at_init", float(t[0]), None, float(t[0]), 0))
            else:
                out.append(Crossing("emerged", float(t[k]), float(t[k - 1]), float(t[k]), k))
        return out

    def first_indices(self, t: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Crossing checkpoint per curve ``[curve, ckpt]`` (sorted, kept ``t``): -1 not emerged.

        The vectorised core of :meth:`locate_sorted` for resamples (``sigmoid`` fits each).
        """
        raw = np.atleast_2d(np.asarray(values, dtype=float))
        if not len(t):
            return np.full(len(raw), -1)
        if self.method == "sigmoid":
            return np.array([c.index for c in self.locate_sorted(t, raw)])
        v = self.transform(raw, smooth=False)
        flat = np.nanmax(v, axis=1) <= 0 if self.drop_flat else np.zeros(len(v), bool)
        first = self._first_index(smooth_curve(v, self.smooth))
        return np.where(flat, -1, first)

    def brackets(self, t: np.ndarray, values: np.ndarray):
        """``(lower, upper, never)`` crossing brackets of curves ``[curve, ckpt]``: -inf for no
        lower end (present at init), +inf for no upper end (not emerged), and the mask of curves
        that never emerge. ``sigmoid`` brackets are its fitted midpoint's checkpoints."""
        t = np.asarray(t, dtype=float)
        k = self.first_indices(t, values)
        never = k < 0
        lower = np.where(k > 0, t[np.maximum(k - 1, 0)], -np.inf)
        lower = np.where(never, t[-1] if len(t) else -np.inf, lower)
        upper = np.where(never, np.inf, t[np.maximum(k, 0)] if len(t) else np.inf)
        return lower, upper, never

    def transform(self, values: np.ndarray, *, smooth: bool = True) -> np.ndarray:
        """Curves ``[..., checkpoint]`` as the criterion reads them: above chance, smoothed."""
        v = np.asarray(values, dtype=float)
        if self.chance is not None:
            v = normalize_chance(v, self.chance)
        return smooth_curve(v, self.smooth) if smooth else v

    def _first_index(self, v: np.ndarray) -> np.ndarray:
        """First checkpoint meeting the criterion per row of ``v`` (smoothed), -1 for none."""
        if self.method == "stable":
            ok = v >= self.threshold
            kernel = np.ones(self.window, dtype=int)
            if v.shape[1] < self.window:
                return np.full(len(v), -1)
            runs = np.stack([np.convolve(r.astype(int), kernel, mode="valid") for r in ok])
            ok = runs == self.window
        elif self.method == "relative" and self.rise_from == "init":
            ok = self._rise_ok(v)
        else:
            ok = v >= self.threshold if self.threshold is not None else np.ones(v.shape, bool)
            if self.method == "relative":
                ref = v[:, -1] if self.relative_to == "final" else np.nanmax(v, axis=1)
                ok &= v >= self.fraction * ref[:, None]
                if self.threshold is None:  # no floor and nothing to take a share of
                    ok &= (ref > 0)[:, None]
        hit = ok.any(axis=1)
        return np.where(hit, ok.argmax(axis=1), -1)

    def reference(self, v: np.ndarray) -> np.ndarray:
        """The reference score of each smoothed curve ``[curve, ckpt]`` (its final or maximum)."""
        return v[:, -1] if self.relative_to == "final" else np.nanmax(v, axis=1)

    def rise(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rise, init level)`` per curve ``[curve, ckpt]`` (sorted, kept checkpoints) as a
        ``relative`` criterion reads them: the reference minus the first checkpoint, and the
        first checkpoint above the floor, on the transformed (chance-normalized, smoothed) scale.
        """
        v = self.transform(np.atleast_2d(np.asarray(values, dtype=float)))
        if not v.shape[1]:
            return np.zeros(len(v)), np.zeros(len(v))
        v0 = np.maximum(v[:, 0], 0.0)
        return self.reference(v) - v0, v[:, 0]

    def _rise_ok(self, v: np.ndarray) -> np.ndarray:
        """Where a rise-based relative criterion is met, per checkpoint (see the module doc)."""
        ref = self.reference(v)
        v0 = np.maximum(v[:, 0], 0.0)  # below the floor (chance) reads as the floor
        rise = ref - v0
        with np.errstate(invalid="ignore", divide="ignore"):
            level = (v - v0[:, None]) / np.where(rise > 0, rise, np.nan)[:, None]
            init_share = np.where(ref > 0, v0 / np.where(ref > 0, ref, 1.0), 0.0)
        ok = (level >= self.fraction) & (rise >= self.min_rise)[:, None]
        ok[:, 0] = (init_share >= self.fraction) & (v0 >= 2 * self.min_rise)
        if self.threshold is not None:
            ok &= v >= self.threshold
        return ok


def _logistic(x, floor, ceil, k, x0):
    return floor + (ceil - floor) / (1.0 + np.exp(-k * (x - x0)))


def _sigmoid_crossing(t: np.ndarray, v: np.ndarray, min_rise: float, flat: bool) -> Crossing:
    not_emerged = Crossing("not_emerged", None, float(t[-1]), None, -1, bool(flat))
    keep = (t > 0) & np.isfinite(v)
    x, y = np.log10(t[keep]), v[keep]
    if flat or len(x) < 4 or np.ptp(x) == 0:
        return not_emerged
    lo, hi, span = float(y.min()), float(y.max()), float(np.ptp(y)) or 1e-6
    xr = float(np.ptp(x))
    p0 = [lo, hi, 4.0 / xr, float(np.median(x))]
    bounds = (
        [lo - span, lo, 0.0, x.min() - xr],
        [hi, hi + span, 200.0 / xr, x.max() + xr],
    )
    p0 = np.clip(p0, np.asarray(bounds[0]) + 1e-9, np.asarray(bounds[1]) - 1e-9)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (floor, ceil, _, x0), _ = curve_fit(_logistic, x, y, p0=p0, bounds=bounds, maxfev=2000)
    except (RuntimeError, ValueError):
        return not_emerged
    if ceil - floor < min_rise or x0 > x.max():
        return not_emerged
    mid = 10**x0
    if mid <= t[0]:
        return Crossing("present_at_init", float(t[0]), None, float(t[0]), 0)
    k = int(np.searchsorted(t, mid, side="left"))
    return Crossing("emerged", float(mid), float(t[k - 1]), float(t[k]), k)
