"""The toy world's designed curriculum: when each source enters the corpus, how often it is drawn,
which components each composite needs, and how a recovered order compares with the design.

The world stages its skills through the data. Every source has a mixture weight and an entry
point (a fraction of training): before it, the source is absent from the corpus; from it on, it is
drawn with its weight among the sources that have entered. Sources enter in waves, so the order
the world is built to produce is the wave order (skills of one wave are designed to tie). Each
composite enters after both of its components, at a lower weight, so it is designed to emerge
after them. :data:`DESIGN` is the default; :func:`compare_with_design` reads an emergence table
(or a run directory) and scores the recovered order against it.

>>> DESIGN.designed_rank()["agreement"] < DESIGN.designed_rank()["pet_then_mate"]
True
>>> DESIGN.components()["pet_then_mate"]
('pet', 'mate')
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from curriculens.errors import ConfigError
from curriculens.skills.builtin.toy import TOY_SKILLS
from curriculens.skills.registry import get_skill

#: File a demo run keeps its design in (one per seed directory and at the run's root).
DESIGN_FILE = "design.json"


@dataclass(frozen=True, kw_only=True)
class Source:
    """One corpus source of the designed curriculum.

    Args:
        name: A toy skill (:data:`~curriculens.skills.builtin.toy.TOY_SKILLS`).
        weight: Mixture weight once it has entered (renormalised over the sources present).
        wave: Designed position: sources of one wave enter together and are designed to tie.
        enters: Fraction of training at which it enters the corpus (0: from the first step).
    """

    name: str
    weight: float
    wave: int
    enters: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in TOY_SKILLS:
            raise ConfigError(
                f"design source {self.name!r} is not a toy skill; sources: {', '.join(TOY_SKILLS)}."
            )
        if not (isinstance(self.weight, (int, float)) and math.isfinite(self.weight)) or not (
            self.weight > 0
        ):
            raise ConfigError(f"design source {self.name!r}: weight {self.weight!r}; expected > 0.")
        if not 0.0 <= self.enters < 1.0:
            raise ConfigError(
                f"design source {self.name!r}: enters {self.enters!r}; expected a fraction of "
                "training in [0, 1)."
            )
        if isinstance(self.wave, bool) or not isinstance(self.wave, int) or self.wave < 0:
            raise ConfigError(f"design source {self.name!r}: wave {self.wave!r}; expected >= 0.")


@dataclass(frozen=True, kw_only=True)
class Design:
    """A staged corpus whose emergence order is known by construction.

    Args:
        sources: The sources, each with its weight, wave and entry point. A composite must
            enter after both of its components and in a later wave. A later wave may enter
            earlier than another when it is harder or rarer (a fact base from the first step).
    """

    sources: tuple[Source, ...]
    version: int = 4
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {s.name: s for s in self.sources}
        if len(by_name) != len(self.sources):
            raise ConfigError("design names a source twice; give each source once.")
        object.__setattr__(self, "_by_name", by_name)
        for s in self.sources:
            for c in get_skill(s.name).components:
                if c not in by_name:
                    raise ConfigError(
                        f"design: composite {s.name!r} needs {c!r}, which is not a source."
                    )
                if by_name[c].wave >= s.wave or by_name[c].enters > s.enters:
                    raise ConfigError(
                        f"design: composite {s.name!r} (wave {s.wave}) must enter after its "
                        f"component {c!r} (wave {by_name[c].wave})."
                    )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sources)

    def mixture(self) -> dict[str, float]:
        """Every source at its weight (the mixture once all have entered)."""
        return {s.name: s.weight for s in self.sources}

    def components(self) -> dict[str, tuple[str, ...]]:
        """Composite -> the components it needs (from each skill's registration)."""
        return {n: get_skill(n).components for n in self.names if get_skill(n).components}

    def elementals(self) -> tuple[str, ...]:
        comps = self.components()
        return tuple(n for n in self.names if n not in comps)

    def designed_rank(self) -> dict[str, int]:
        """Skill -> its wave (the designed order; equal waves are designed ties)."""
        return {s.name: s.wave for s in self.sources}

    def entry_steps(self, steps: int) -> dict[str, int]:
        """Skill -> the training step from which its source is in the corpus."""
        return {s.name: int(round(s.enters * steps)) for s in self.sources}

    def phases(self, steps: int) -> list[tuple[int, dict[str, float]]]:
        """The staged mix for :func:`curriculens.toy.trainer.train`: ``[(last_step, mixture)]``.

        >>> [end for end, _ in DESIGN.phases(700)][-1]
        700
        """
        entry = self.entry_steps(steps)
        starts = sorted(set(entry.values()) | {0})
        out = []
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else steps
            if end <= start:
                continue
            mix = {s.name: s.weight for s in self.sources if entry[s.name] <= start}
            if not mix:
                raise ConfigError("design: no source enters at step 0; one must.")
            out.append((end, mix))
        return out

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "sources": [
                {"name": s.name, "weight": s.weight, "wave": s.wave, "enters": s.enters}
                for s in self.sources
            ],
            "components": {k: list(v) for k, v in self.components().items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> Design:
        return cls(
            sources=tuple(
                Source(name=s["name"], weight=s["weight"], wave=s["wave"], enters=s["enters"])
                for s in d["sources"]
            ),
            version=int(d.get("version", 4)),
        )

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / DESIGN_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def load(cls, folder: str | Path) -> Design:
        path = Path(folder) / DESIGN_FILE
        if not path.is_file():
            raise ConfigError(
                f"{path} not found: this run holds no designed curriculum (only runs made by "
                "`curriculens demo` from toy suite v4 on record one)."
            )
        return cls.from_dict(json.loads(path.read_text()))


def _src(wave: int, enters: float, weight: float, *names: str) -> tuple[Source, ...]:
    return tuple(Source(name=n, weight=weight, wave=wave, enters=enters) for n in names)


#: Design version 5 (toy world v4), the demo's default before world v5: sources enter the corpus
#: in seven waves from step 0 to 54% of training. Its few-shot skills crossed in a few brackets
#: and its composites (one marker word of their own) were predicted no better by their
#: components than by decoy pairs, so world v5 replaced it; kept so that its runs can be re-made
#: (``Design.load`` reads any run's own design from its ``design.json``).
DESIGN_V5 = Design(
    sources=(
        *_src(0, 0.0, 0.20, "agreement", "agreement_attractor"),
        *_src(0, 0.0, 0.20, "copy"),
        *_src(0, 0.0, 0.15, "plural"),
        *_src(1, 0.10, 0.10, "category"),
        *_src(2, 0.18, 0.10, "pet"),
        *_src(2, 0.18, 0.15, "middle"),
        *_src(3, 0.30, 0.10, "last"),
        *_src(4, 0.37, 0.04, "copy_plural", "copy_category", "pet_plural", "pet_category"),
        *_src(5, 0.46, 0.04, "middle_plural", "middle_category", "last_plural", "last_category"),
        *_src(6, 0.54, 0.10, "successor"),
    ),
    version=5,
)

#: The default design (version 6, toy world v5; the demo's), staged by introduction in cohorts.
#: Wave 0 (step 0): copy and the two zero-shot agreement skills at 0.20 each; middle enters at
#: 6% (wave 1). Nine memorised item maps enter in three cohorts of three, at 0, 22% and 40% of
#: training, at weights 0.12 / 0.08 / 0.06 (cohort 1: pet, mate, rival, with plural; cohort 2:
#: gift, twin, boss, with category; cohort 3: prize, pal, kin), and with each cohort its chain
#: composites at 0.04 (rarer than every component), one wave after the cohort's maps. Each chain
#: joins two maps of its cohort and writes both hops out, so it is learnt as the chaining is and
#: stays near the product of its components, which are still rising when it does. Then last (50%)
#: and successor (54%, two-digit and slow). The designed order is the wave order; skills of one
#: wave are designed to tie. How it was chosen (trials, four seeds each) is in docs/results.md.
DESIGN = Design(
    sources=(
        *_src(0, 0.0, 0.20, "agreement", "agreement_attractor", "copy"),
        *_src(1, 0.06, 0.10, "middle"),
        *_src(2, 0.0, 0.12, "pet"),
        *_src(2, 0.0, 0.08, "mate"),
        *_src(2, 0.0, 0.06, "rival", "plural"),
        *_src(3, 0.0, 0.04, "pet_then_mate", "pet_then_rival", "mate_then_rival"),
        *_src(4, 0.22, 0.12, "gift"),
        *_src(4, 0.22, 0.08, "twin"),
        *_src(4, 0.22, 0.06, "boss", "category"),
        *_src(5, 0.22, 0.04, "gift_then_twin", "gift_then_boss", "twin_then_boss"),
        *_src(6, 0.40, 0.12, "prize"),
        *_src(6, 0.40, 0.08, "pal"),
        *_src(6, 0.40, 0.06, "kin"),
        *_src(7, 0.40, 0.04, "prize_then_pal", "prize_then_kin"),
        *_src(8, 0.50, 0.10, "last"),
        *_src(9, 0.54, 0.10, "successor"),
    ),
    version=6,
)


# ---------------------------------------------------------------- comparison with the design
@dataclass(frozen=True, kw_only=True)
class DesignComparison:
    """How one run's recovered order compares with the designed one.

    Attributes:
        run: The run compared (``""`` for a single-run store).
        spearman: Spearman's rho between recovered crossings and designed waves, over the
            skills that emerged (``nan`` with fewer than 3).
        n_emerged: Skills with a crossing, of ``n_skills`` designed.
        not_emerged: Designed skills without a crossing (left out of rho).
        disagreeing: Pairs ``(a, b)`` designed a before b (earlier wave) whose recovered
            crossing puts b strictly before a.
        composite_pairs: ``(composite, component, later)``: ``later`` is True when the
            composite crosses strictly after the component, False when at or before it (or
            when the composite never emerged while the component did), ``None`` when the
            component did not emerge.
        crossings: Skill -> recovered crossing (tokens, ``None``: not emerged).
        distinct: Distinct crossing checkpoints among the elementals, and among the few-shot
            elementals.
    """

    run: str
    spearman: float
    n_emerged: int
    n_skills: int
    not_emerged: tuple[str, ...]
    disagreeing: tuple[tuple[str, str], ...]
    composite_pairs: tuple[tuple[str, str, bool | None], ...]
    crossings: dict[str, float | None]
    distinct_elementals: int
    distinct_fewshot_elementals: int

    @property
    def composite_later_rate(self) -> float:
        """Share of decided (composite, component) pairs where the composite is later."""
        decided = [later for _, _, later in self.composite_pairs if later is not None]
        return float(np.mean(decided)) if decided else float("nan")

    def to_dict(self) -> dict:
        return {
            "run": self.run,
            "spearman": None if math.isnan(self.spearman) else round(self.spearman, 4),
            "n_emerged": self.n_emerged,
            "n_skills": self.n_skills,
            "not_emerged": list(self.not_emerged),
            "disagreeing": [list(p) for p in self.disagreeing],
            "composite_pairs": [list(p) for p in self.composite_pairs],
            "composite_later_rate": _round(self.composite_later_rate),
            "crossings": self.crossings,
            "distinct_elementals": self.distinct_elementals,
            "distinct_fewshot_elementals": self.distinct_fewshot_elementals,
        }

    def describe(self) -> str:
        """One paragraph for a report: rho, the disagreeing pairs, composites after components."""
        rho = "n/a" if math.isnan(self.spearman) else f"{self.spearman:.2f}"
        run = f"{self.run}: " if self.run else ""
        text = (
            f"{run}recovered vs designed order: Spearman rho {rho} over {self.n_emerged} of "
            f"{self.n_skills} skills that emerged"
        )
        if self.not_emerged:
            text += f" (not emerged: {', '.join(self.not_emerged)})"
        if self.disagreeing:
            shown = ", ".join(f"{b} before {a}" for a, b in self.disagreeing[:6])
            more = len(self.disagreeing) - 6
            more_text = f", +{more}" if more > 0 else ""
            text += f"; {len(self.disagreeing)} pairs disagree ({shown}{more_text})"
        else:
            text += "; no pair disagrees"
        decided = [p for p in self.composite_pairs if p[2] is not None]
        later = sum(bool(p[2]) for p in decided)
        text += (
            f"; composites cross strictly after their component in {later} of {len(decided)} "
            f"pairs; elementals on {self.distinct_elementals} distinct checkpoints "
            f"({self.distinct_fewshot_elementals} for the few-shot ones)."
        )
        return text


def _round(v: float) -> float | None:
    return None if math.isnan(v) else round(float(v), 4)


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) < 3:
        return float("nan")
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def compare_crossings(
    crossings: Mapping[str, float | None], design: Design = DESIGN, *, run: str = ""
) -> DesignComparison:
    """Score one run's crossings (skill -> tokens, ``None`` if not emerged) against a design.

    Skills the run did not measure are left out; a designed skill measured but not emerged is
    listed in ``not_emerged``.

    >>> c = compare_crossings({"agreement": 1e4, "plural": 1e4, "copy": 2e4, "copy_plural": 3e4},
    ...                       _toy_design())
    >>> round(c.spearman, 2), c.disagreeing, c.composite_later_rate
    (1.0, (), 1.0)
    """
    rank = design.designed_rank()
    measured = {k: crossings[k] for k in design.names if k in crossings}
    emerged = {k: float(v) for k, v in measured.items() if v is not None and math.isfinite(v)}
    names = list(emerged)
    rho = _spearman([rank[k] for k in names], [emerged[k] for k in names])
    disagree = tuple(
        (a, b) if rank[a] < rank[b] else (b, a)
        for a, b in combinations(names, 2)
        if rank[a] != rank[b]
        and (rank[a] < rank[b]) != (emerged[a] < emerged[b])
        and emerged[a] != emerged[b]
    )
    pairs = []
    for comp, parts in design.components().items():
        if comp not in measured:
            continue
        for part in parts:
            if part not in measured:
                continue
            if part not in emerged:
                later = None
            elif comp not in emerged:
                later = False
            else:
                later = emerged[comp] > emerged[part]
            pairs.append((comp, part, later))
    elementals = [k for k in design.elementals() if k in emerged]
    fewshot = [k for k in elementals if get_skill(k).shots]
    return DesignComparison(
        run=run,
        spearman=rho,
        n_emerged=len(emerged),
        n_skills=len(measured),
        not_emerged=tuple(k for k in measured if k not in emerged),
        disagreeing=disagree,
        composite_pairs=tuple(pairs),
        crossings={k: (None if v is None else float(v)) for k, v in measured.items()},
        distinct_elementals=len({emerged[k] for k in elementals}),
        distinct_fewshot_elementals=len({emerged[k] for k in fewshot}),
    )


def _toy_design() -> Design:
    """A four-skill design for the doctests."""
    return Design(
        sources=(
            *_src(0, 0.0, 1.0, "agreement", "plural"),
            *_src(1, 0.1, 1.0, "copy"),
            *_src(2, 0.2, 0.5, "copy_plural"),
        )
    )


def raw_crossings(source, *, criterion="paper", run: str | None = None) -> dict[str, float | None]:
    """Each skill's behavior crossing on raw curves (no smoothing) in one run of a store.

    Args:
        source: A run directory, a ``results.sqlite`` path, or its long-format DataFrame.
        criterion: A :class:`~curriculens.analysis.criterion.Criterion` or preset name; its
            smoothing is turned off.
        run: The run to read (``None``: the store's only run).
    """
    from curriculens.analysis.criterion import Criterion
    from curriculens.analysis.curriculum import behavior_curve

    df = _frame(source)
    if run is not None:
        df = df[df["run"] == run]
    elif "run" in df and df["run"].nunique() > 1:
        raise ConfigError(
            f"the store holds {df['run'].nunique()} runs ({', '.join(sorted(df['run'].unique()))});"
            " pass run=NAME."
        )
    crit = Criterion.of(criterion).with_fields(smooth=None)
    out = {}
    for skill in sorted(df.loc[df["kind"] == "behavior", "skill"].unique()):
        curve = behavior_curve(df, skill)
        out[skill] = crit.point(curve.index.to_numpy(float), curve.to_numpy(float))
    return out


def _frame(source) -> pd.DataFrame:
    from curriculens.analysis.table import load_table

    return load_table(source)


def compare_with_design(
    source, design: Design | None = None, *, criterion="paper"
) -> list[DesignComparison]:
    """Recovered vs designed order for every run of a demo, on raw behavior curves.

    Args:
        source: A demo's run directory (its design is read from ``design.json``), a store
            path, or a long-format DataFrame (then pass ``design``).
        design: The design to compare with (default: the run's own, else :data:`DESIGN`).
        criterion: Emergence criterion (preset name or object); smoothing is turned off.

    Returns:
        One :class:`DesignComparison` per run, in run order.

    >>> [c.spearman >= 0.9 for c in compare_with_design("runs/demo")]  # doctest: +SKIP
    [True]
    """
    if design is None:
        design = DESIGN
        if not isinstance(source, pd.DataFrame):
            path = Path(source)
            if (path / DESIGN_FILE).is_file():
                design = Design.load(path)
    df = _frame(source)
    runs = sorted(df["run"].unique()) if "run" in df else [""]
    return [
        compare_crossings(
            raw_crossings(df, criterion=criterion, run=r if len(runs) > 1 else None),
            design,
            run=r if len(runs) > 1 else "",
        )
        for r in runs
    ]
