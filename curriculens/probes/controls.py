"""Control tasks for probes (Hewitt & Liang 2019): labels a probe can only get right by memorizing.

Each type (a token, or in a sweep the group that determines an item's label) gets a random class,
fixed for every occurrence of that type. A probe's
selectivity is its task accuracy minus its accuracy on these control labels.

One draw of control labels is a noisy baseline: under a group split a held-out group's control
class is never seen in training, so its held-out accuracy is chance for any representation, with
a spread of about 0.1 between draws on a few hundred items. A sweep therefore fits
:data:`CONTROL_DRAWS` draws (:func:`control_draws`; the fused engine solves them together, as
they share the activations) and stores their mean and standard deviation; selectivity uses the
mean.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Int

from curriculens.errors import ProbeError

__all__ = ["CONTROL_DRAWS", "control_draws", "control_labels"]

#: Control draws a sweep fits per probe (their mean is the control baseline, their SD its spread).
CONTROL_DRAWS = 30


def control_labels(
    token_ids: Int[np.ndarray, " n"],
    *,
    n_classes: int | None = None,
    y: Int[np.ndarray, " n"] | None = None,
    seed: int = 0,
) -> Int[np.ndarray, " n"]:
    """Hewitt & Liang control labels: a random class per token type, the same for all its rows.

    Classes are drawn from the empirical class distribution of ``y`` when given (as in the
    paper), else uniformly from ``n_classes``. The draw depends only on ``seed`` and the sorted
    set of token types, so every checkpoint of a sweep gets the same control task. Two or more
    types always get at least two classes.

    Args:
        token_ids: Token type of each row ``[n]`` (e.g. the token id at the read position).
        n_classes: Number of control classes (default: the number of classes in ``y``).
        y: Task labels ``[n]``; their class frequencies set the control distribution.
        seed: Seed of the draw.

    Returns:
        Control labels ``[n]``, ints in ``[0, n_classes)``.

    >>> c = control_labels(np.array([5, 7, 5, 9, 7]), n_classes=2, seed=0)
    >>> bool(c[0] == c[2] and c[1] == c[4])
    True
    """
    tok = np.asarray(token_ids)
    if tok.ndim != 1:
        raise ProbeError(f"token_ids must have shape [n]; received {tok.shape}.")
    if y is not None:
        y = np.asarray(y)
        if y.shape != tok.shape:
            raise ProbeError(f"y must have shape {tok.shape} like token_ids; received {y.shape}.")
        if y.size and (y.min() < 0 or (n_classes and y.max() >= n_classes)):
            raise ProbeError(
                f"y must hold class ids in [0, {n_classes or 'n'}); received {y.min()}..{y.max()}."
            )
        k = n_classes or int(y.max()) + 1
        probs = np.bincount(y.astype(np.int64), minlength=k)[:k].astype(float)
        probs = probs / probs.sum()
    else:
        if not n_classes or n_classes < 2:
            raise ProbeError(
                f"n_classes must be at least 2 when y is not given; received {n_classes}. "
                "Pass n_classes=2 or the task labels y=."
            )
        k = n_classes
        probs = np.full(k, 1.0 / k)
    types, inverse = np.unique(tok, return_inverse=True)
    rng = np.random.default_rng(seed)
    per_type = rng.choice(k, size=types.size, p=probs)
    if types.size >= 2 and np.unique(per_type).size < 2:
        # two or more types must not collapse into one class: a constant is no control task
        i = rng.integers(types.size)
        per_type[i] = rng.choice([c for c in range(k) if c != per_type[i]])
    return per_type[inverse].astype(np.int64)


def control_draws(
    token_ids: Int[np.ndarray, " n"],
    *,
    first: Int[np.ndarray, " n"] | None = None,
    n_draws: int = CONTROL_DRAWS,
    n_classes: int | None = None,
    y: Int[np.ndarray, " n"] | None = None,
    seed: int = 0,
) -> Int[np.ndarray, "draw n"]:
    """``n_draws`` independent control labellings ``[draw, n]`` of :func:`control_labels`.

    Draw 0 is ``first`` when given (the labels a sweep stores with its items), else
    ``control_labels(..., seed=seed)``; draw ``k >= 1`` is seeded by ``(seed, k)`` alone, so
    every checkpoint of a sweep fits the same draws.

    >>> c = control_draws(np.array([5, 7, 5, 9, 7]), n_classes=2, n_draws=3)
    >>> c.shape, bool((c[:, 0] == c[:, 2]).all())
    ((3, 5), True)
    """
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise ProbeError(f"n_draws must be an int >= 1; received {n_draws!r}.")
    kw = dict(n_classes=n_classes, y=y)
    out = [control_labels(token_ids, seed=seed, **kw) if first is None else np.asarray(first)]
    for k in range(1, n_draws):
        sub = int(np.random.SeedSequence([seed, 7331, k]).generate_state(1)[0])
        out.append(control_labels(token_ids, seed=sub, **kw))
    return np.stack(out).astype(np.int64)
