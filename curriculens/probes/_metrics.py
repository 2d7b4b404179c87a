"""Held-out scores of one fitted probe: accuracy, balanced accuracy, AUROC and log-loss."""

from __future__ import annotations

import numpy as np

_EPS_PROB = 1e-15


def _average_ranks(score: np.ndarray) -> np.ndarray:
    """1-based ranks of ``score`` with ties given their average rank (``scipy.stats.rankdata``'s
    default), in a few numpy calls: SciPy's array-API wrapping cost more than the ranking on
    the sweep's few hundred held-out rows, once per probe and control draw.

    >>> _average_ranks(np.array([0.5, 0.1, 0.5, 0.9])).tolist()
    [2.5, 1.0, 2.5, 4.0]
    """
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # first index of each tie group
    ends = np.r_[starts[1:], s.size]
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def binary_auroc(score, pos):
    """AUROC of ``score`` for the positives ``pos`` (rank-sum form); NaN with a single class."""
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(score))
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def problem_metrics(logp, true_codes, k):
    """Score logp [k_all, n] against codes [n] (-1 = unseen): acc, bacc, auroc, xent, correct."""
    lp = logp[:k]
    pred = lp.argmax(0)
    correct = (pred == true_codes).astype(np.float32)
    if correct.size == 0:
        nan = float("nan")
        return nan, nan, nan, nan, correct
    acc = float(correct.mean(dtype=np.float64))
    present = np.unique(true_codes)
    recalls = [float(correct[true_codes == c].mean(dtype=np.float64)) for c in present]
    bacc = float(np.mean(recalls))
    p_true = np.where(
        true_codes >= 0, np.exp(lp[np.clip(true_codes, 0, k - 1), np.arange(lp.shape[1])]), 0.0
    )
    xent = float(-np.log(np.maximum(p_true, _EPS_PROB)).mean())
    auroc = (
        binary_auroc(lp[1] - lp[0], true_codes == 1)
        if k == 2 and (true_codes >= 0).all()
        else np.nan
    )
    return acc, bacc, float(auroc), xent, correct
