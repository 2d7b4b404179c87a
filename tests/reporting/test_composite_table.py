"""The 'Composites vs components' table shows every pair with its order, never a bare header."""

from types import SimpleNamespace

import pandas as pd

from curriculens.analysis.consistency import composite_check
from curriculens.analysis.criterion import Criterion
from curriculens.reporting.sections import composite_sections


def _analysis(points):
    comps = {"copy_plural": ("copy", "plural"), "pet_plural": ("pet", "plural")}
    return SimpleNamespace(
        df=pd.DataFrame({"skill": list(points)}),
        points={"r": points},
        composites={"r": composite_check(points, comps)},
        criterion=Criterion.of("paper"),
    )


def test_every_pair_is_listed_with_its_order_exceptions_first():
    points = {"copy": 6e5, "plural": 4e5, "copy_plural": 6e5, "pet": 9e5, "pet_plural": 5e5}
    (section,) = composite_sections(_analysis(points))
    header, *rows = section.rows
    assert header[-1] == "order" and len(rows) == 4
    assert rows[0][:2] == ["pet_plural", "pet"] and rows[0][-1] == "exception: component later"
    orders = {(r[0], r[1]): r[-1] for r in rows}
    assert orders[("copy_plural", "copy")] == "same checkpoint"
    assert orders[("copy_plural", "plural")] == "composite later"
    assert "exceptions (a component that came later) first: 1" in section.note


def test_censored_pairs_are_named():
    points = {"copy": None, "plural": 4e5, "copy_plural": None, "pet": 3e5, "pet_plural": 5e5}
    (section,) = composite_sections(_analysis(points))
    orders = {(r[0], r[1]): r[-1] for r in section.rows[1:]}
    assert orders[("copy_plural", "copy")] == "neither emerged"
    assert orders[("copy_plural", "plural")] == "composite not emerged"
    assert section.rows[1:] and all(len(r) == 5 for r in section.rows[1:])
