import numpy as np

from curriculens.activations import Capture, EncodedSkill
from curriculens.behavior import score_behavior
from curriculens.skills import get_skill


def _enc(skill, owners, cands):
    n = len(set(owners))
    return EncodedSkill(
        skill=get_skill(skill),
        examples=[None] * n,
        seqs=[[0]] * len(owners),
        owner=np.array(owners),
        candidate=np.array(cands),
        cont_start=np.zeros(len(owners), int),
        read_pos=np.zeros(len(owners), int),
        read_token=np.zeros(n, int),
        labels=np.zeros(n, int),
    )


def test_continuation_exact_match_needs_every_token():
    enc = _enc("copy", [0, 1], [0, 0])
    cap = Capture(
        acts={},
        token_logprob=[np.array([-0.1, -0.2, -0.3]), np.array([-1.0, -2.0])],
        token_correct=[np.array([True, True, True]), np.array([True, False])],
    )
    s = score_behavior(enc, cap)
    np.testing.assert_allclose(s["exact_match"], [1.0, 0.0])
    np.testing.assert_allclose(s["token_acc"], [1.0, 0.5])
    np.testing.assert_allclose(s["logprob"], [-0.2, -1.5])


def test_choice_accuracy_and_probability_from_total_logprobs():
    # example 0: target total -1 beats -3; example 1: target -2.5 loses to -0.5
    enc = _enc("agreement", [0, 0, 1, 1], [0, 1, 0, 1])
    cap = Capture(
        acts={},
        token_logprob=[np.array([-1.0]), np.array([-3.0]), np.array([-2.5]), np.array([-0.5])],
        token_correct=[np.array([True])] * 4,
    )
    s = score_behavior(enc, cap)
    np.testing.assert_allclose(s["choice_acc"], [1.0, 0.0])
    np.testing.assert_allclose(s["choice_prob"], [1 / (1 + np.exp(-2)), 1 / (1 + np.exp(2))])
