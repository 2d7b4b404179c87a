"""Held-out metrics: average ranks and AUROC agree with SciPy and scikit-learn."""

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from curriculens.probes._metrics import _average_ranks, binary_auroc


def test_average_ranks_match_scipy_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(100):
        x = rng.integers(0, 12, rng.integers(1, 200)).astype(float)
        np.testing.assert_allclose(_average_ranks(x), rankdata(x))


def test_binary_auroc_matches_sklearn():
    rng = np.random.default_rng(1)
    score = np.round(rng.normal(size=300), 1)  # ties
    pos = rng.random(300) < score.clip(0, 1) + 0.2
    assert abs(binary_auroc(score, pos) - roc_auc_score(pos, score)) < 1e-12
    assert np.isnan(binary_auroc(score, np.ones(300, bool)))
