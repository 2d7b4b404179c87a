#!/usr/bin/env bash
# One-shot GPU check for the fused probe engine (issue #4): the `gpu` tests, then the probe
# benchmarks on CUDA, each printing its JSON line. Run from the repository root on a machine
# with CUDA and the package's dependencies installed (pip install -e ".[dev]").
# Device time is short: this runs the tests first and stops at the first failure.
set -euo pipefail
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python -m pytest -q -m gpu tests/probes
for w in W1 W1-full W2 W-wide; do
  python benchmarks/bench_probes.py --workload "$w" --device cuda --json --skip-default
done
