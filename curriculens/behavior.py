"""Behavior: per-example skill scores from the continuation log-probabilities.

Continuation skills get exact match (every target token is the greedy choice), per-token accuracy
and the mean target log-probability. Choice and minimal-pair skills get choice accuracy (the
target outscores every alternative), the probability mass on the target among the choices, and the
target's mean log-probability. The continuous scores are there because exact match alone makes
emergence look sudden.
"""

from __future__ import annotations

import numpy as np

from curriculens.activations import Capture, EncodedSkill

#: The metrics :func:`score_behavior` returns, per skill format.
METRICS = {
    "continuation": ("logprob", "exact_match", "token_acc"),
    "choice": ("logprob", "choice_acc", "choice_prob"),
    "minimal_pair": ("logprob", "choice_acc", "choice_prob"),
}


def behavior_metrics(fmt: str) -> tuple[str, ...]:
    """Names of the behavior metrics of a skill format.

    >>> behavior_metrics("continuation")
    ('logprob', 'exact_match', 'token_acc')
    """
    return METRICS[fmt]


def score_behavior(encoded: EncodedSkill, cap: Capture) -> dict[str, np.ndarray]:
    """Per-example behavior metrics, ``metric -> [example]`` float arrays.

    >>> import numpy as np
    >>> from curriculens.skills import get_skill
    >>> from curriculens.activations import Capture, EncodedSkill
    >>> enc = EncodedSkill(skill=get_skill("add1"), examples=[None], seqs=[[1, 2, 3]],
    ...     owner=np.array([0]), candidate=np.array([0]), cont_start=np.array([2]),
    ...     read_pos=np.array([1]), read_token=np.array([2]), labels=np.array([0]))
    >>> cap = Capture(acts={}, token_logprob=[np.array([-0.1])], token_correct=[np.array([True])])
    >>> score_behavior(enc, cap)["exact_match"].tolist()
    [1.0]
    """
    n = len(encoded.examples)
    fmt = encoded.skill.format
    target = np.flatnonzero(encoded.candidate == 0)
    out: dict[str, np.ndarray] = {}
    tgt_lp = np.array([cap.token_logprob[i].mean() for i in target])
    out["logprob"] = tgt_lp
    if fmt == "continuation":
        out["exact_match"] = np.array([cap.token_correct[i].all() for i in target], float)
        out["token_acc"] = np.array([cap.token_correct[i].mean() for i in target], float)
        return out
    totals = np.full((n, int(encoded.candidate.max()) + 1), -np.inf)
    for i, (o, c) in enumerate(zip(encoded.owner, encoded.candidate, strict=True)):
        totals[o, c] = cap.token_logprob[i].sum()
    out["choice_acc"] = (totals[:, 0] > totals[:, 1:].max(axis=1)).astype(float)
    z = totals - totals.max(axis=1, keepdims=True)
    p = np.exp(z)
    out["choice_prob"] = p[:, 0] / p.sum(axis=1)
    return out
