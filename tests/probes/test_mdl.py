"""Online MDL probing: planted signal compresses, random labels do not."""

import numpy as np
import pytest

from curriculens.errors import ProbeError
from curriculens.probes.mdl import mdl_online_codelength


def test_planted_signal_compresses_and_random_labels_do_not():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 16)).astype(np.float32)
    y_lin = (X @ rng.normal(size=16) + 0.3 * rng.normal(size=3000) > 0).astype(int)
    y_rand = rng.integers(0, 2, 3000)
    lin = mdl_online_codelength(X, y_lin)
    rand = mdl_online_codelength(X, y_rand)
    assert lin.compression > 2.5
    assert 0.85 < rand.compression < 1.1
    assert lin.block_bits.size == lin.boundaries.size
    assert lin.codelength_bits == pytest.approx(lin.block_bits.sum())
    assert lin.uniform_bits == pytest.approx(3000.0)


def test_bad_fractions_are_rejected():
    X = np.zeros((10, 2), np.float32)
    with pytest.raises(ProbeError, match="fractions must increase"):
        mdl_online_codelength(X, np.arange(10) % 2, fractions=(50, 20, 100))
