"""Ridge classification probes, batched: one eigendecomposition per activation set, exact LOO.

Same inputs and results as :func:`curriculens.probes.fused.fit_logistic_batch`; the Gram and its
eigendecomposition serve every label set and every alpha, and leave-one-out errors come in closed
form from the same factorization.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from curriculens.probes._metrics import binary_auroc
from curriculens.probes._prepare import (
    apply_standardize,
    encode,
    positive_grid,
    prepare,
    standardize_gram,
)
from curriculens.probes.fused import BatchProbeResult

__all__ = ["fit_ridge_batch"]


def _ridge_targets(codes, k):
    """±1 one-hot targets of sklearn's RidgeClassifier: one column for binary, k otherwise."""
    if k == 2:
        return (2.0 * (codes == 1) - 1.0)[:, None]
    return 2.0 * (codes[:, None] == np.arange(k)[None, :]) - 1.0


def fit_ridge_batch(
    X: Float[Tensor, "probe n d"] | Float[np.ndarray, "probe n d"],
    y: Int[np.ndarray, "probe n"] | Int[np.ndarray, "probe label n"],
    *,
    train: Bool[np.ndarray, "probe n"] | None = None,
    mask: Bool[np.ndarray, "probe n"] | None = None,
    alphas: Sequence[float] = (1.0,),
    device: str | torch.device | None = None,
) -> BatchProbeResult:
    """Ridge classification probes (±1 one-hot targets) for every (activation set, label set).

    Matches ``StandardScaler`` + ``RidgeClassifier(alpha)``: minimizes ``‖T - Zw - b‖² + α‖w‖²``
    with an unpenalized intercept. One eigendecomposition of the Gram per activation set serves
    every label set and every ``alpha``; with several alphas, each problem picks the alpha with the
    smallest exact leave-one-out squared error on its training rows (as ``RidgeClassifierCV``).

    Args:
        X: Activations ``[P, N, d]``.
        y: Integer labels ``[P, N]`` or ``[P, L, N]``; negative labels mark missing rows.
        train: Training rows ``[P, N]``; the other valid rows are held out.
        mask: Valid rows ``[P, N]``; default all.
        alphas: Grid of L2 strengths (sklearn's ``alpha``). ``C`` in the result is ``1/alpha``.
        device: Torch device for the math.

    Returns:
        A :class:`BatchProbeResult` (``xent`` is NaN: ridge gives no probabilities).

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1, 300, 4)).astype(np.float32)
    >>> y = (X[..., 1] > 0).astype(int)
    >>> res = fit_ridge_batch(X, y, train=np.arange(300)[None] < 200, alphas=(0.1, 1.0, 10.0))
    >>> bool(res.acc[0, 0] > 0.9)
    True
    """
    prep = prepare(X, y, train, mask, device)
    Xt, yl, tr, te = prep.X, prep.y, prep.train, prep.test
    P, L, N = yl.shape
    d = Xt.shape[2]
    al = positive_grid(alphas, "alphas")
    failure = [list(r) for r in prep.failure]
    codes, classes = encode(yl, tr, failure)
    K = max([c.size for row in classes for c in row] + [2])
    nan = np.full((P, L), np.nan)
    acc, bacc, auroc, majority, chosen = (nan.copy() for _ in range(5))
    n_train = np.zeros((P, L), np.int64)
    n_test = np.zeros((P, L), np.int64)
    correct = [[np.zeros(0, np.float32) for _ in range(L)] for _ in range(P)]
    coef = np.zeros((P, L, K, d), np.float32)
    intercept = np.zeros((P, L, K), np.float32)
    mean = np.zeros((P, d))
    scale = np.ones((P, d))
    for p in range(P):
        Z, gram, idx, valid, mu, sd, _trace, _nonfinite = standardize_gram(
            Xt[p : p + 1], tr[p : p + 1]
        )
        mean[p], scale[p] = mu[0].cpu().numpy(), sd[0].cpu().numpy()
        rows = idx[0][valid[0]]
        Zd = Z[0, : rows.size].double()
        lam, V = torch.linalg.eigh(gram[0].double())
        lam = lam.clamp_min(0.0)
        A = Zd @ V if al.size > 1 else None  # rotated rows for the LOO hat diagonal
        Zte, idx_te, valid_te, _ = apply_standardize(Xt[p : p + 1], te[p : p + 1], mu, sd)
        te_rows = idx_te[0][valid_te[0]]
        Zte_d = Zte[0, : te_rows.size].double()
        for lab in range(L):
            n_train[p, lab] = int((tr[p] & (yl[p, lab] >= 0)).sum())
            n_test[p, lab] = int((te[p] & (yl[p, lab] >= 0)).sum())
            if failure[p][lab] is not None:
                continue
            k = classes[p][lab].size
            c_tr = codes[p, lab, rows]
            keep = torch.from_numpy(c_tr >= 0).to(Zd.device)
            T = torch.from_numpy(_ridge_targets(c_tr, k)).to(Zd)
            w_row = keep.double()[:, None]
            tbar = (T * w_row).sum(0) / w_row.sum()
            Tc = (T - tbar) * w_row
            VtB = V.T @ (Zd.T @ Tc)  # [d, k_t]
            best = 0
            if al.size > 1:
                n_rows = float(w_row.sum())
                errs = []
                for a_ in al:
                    inv = 1.0 / (lam + a_)
                    fit = A @ (VtB * inv[:, None])
                    h = 1.0 / n_rows + (A.square() * inv[None, :]).sum(1)
                    e = (Tc - fit * w_row) / (1.0 - h)[:, None]
                    errs.append(float((e.square() * w_row).sum()))
                best = int(np.argmin(errs))
            a_ = al[best]
            W = V @ (VtB / (lam + a_)[:, None])  # [d, k_t]
            scores = (Zte_d @ W + tbar).cpu().numpy()
            true = codes[p, lab, te_rows]
            if k == 2:
                s = scores[:, 0]
                pred = (s > 0).astype(np.int64)
                w_np = W[:, 0].cpu().numpy()
                coef[p, lab, 0], coef[p, lab, 1] = -w_np / 2, w_np / 2
                intercept[p, lab, 0], intercept[p, lab, 1] = -tbar[0] / 2, tbar[0] / 2
                ok_auc = (true >= 0).all()
                auroc[p, lab] = binary_auroc(s, true == 1) if ok_auc else np.nan
            else:
                pred = scores.argmax(1)
                coef[p, lab, :k] = W.T.cpu().numpy()
                intercept[p, lab, :k] = tbar.cpu().numpy()
            keep_te = yl[p, lab, te_rows] >= 0
            chosen[p, lab] = 1.0 / a_
            if not keep_te.any():
                continue
            pred, true = pred[keep_te], true[keep_te]
            cor = (pred == true).astype(np.float32)
            correct[p][lab] = cor
            acc[p, lab] = float(cor.mean(dtype=np.float64))
            bacc[p, lab] = float(np.mean([cor[true == c].mean() for c in np.unique(true)]))
            counts = np.bincount(c_tr[c_tr >= 0], minlength=k)
            majority[p, lab] = float((true == counts.argmax()).mean())
    return BatchProbeResult(
        acc=acc,
        balanced_acc=bacc,
        auroc=auroc,
        xent=nan.copy(),
        majority=majority,
        C=chosen,
        n_train=n_train,
        n_test=n_test,
        n_iter=np.zeros((P, L), np.int64),
        converged=np.isfinite(acc),
        n_passes=np.ones(P, np.int64),
        failure=failure,
        correct=correct,
        coef=coef,
        intercept=intercept,
        mean=mean,
        scale=scale,
        classes=classes,
    )
