#!/usr/bin/env bash
# One-shot GPU check (issues #4 and #18): the `gpu` tests, the probe benchmarks on CUDA, and the
# sweep benchmark of the Pythia-160m shape on CUDA (the 15 core-en skills x 300 examples, 3
# checkpoints, float32 and bfloat16), each printing its JSON line, then a summary: checkpoints
# per hour for the 160m shape and probes per second for W1. Run from the repository root on a machine with CUDA and the package's
# dependencies installed (pip install -e ".[dev]"). Device time is short: the tests run first
# and the script stops at the first failure.
#
# DEVICE=cpu runs the same steps on the CPU at a small size (W2, the tiny shape), to check the
# script itself where there is no GPU. RESULTS=DIR keeps the JSON lines there (default: a
# temporary folder).
set -euo pipefail
DEVICE=${DEVICE:-cuda}
RESULTS=${RESULTS:-$(mktemp -d)}
mkdir -p "$RESULTS"
if [ "$DEVICE" = cpu ]; then
  workloads=(W2)
  sweep_args=(--shape tiny --skills en_agreement en_add1 --examples 30 --checkpoints 2)
  dtypes=(float32)
else
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  workloads=(W1 W1-full W2 W-wide)
  sweep_args=(--shape pythia-160m --skills core-en --examples 300 --checkpoints 3)
  dtypes=(float32 bfloat16)
fi
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
if [ "$DEVICE" != cpu ]; then
  python -m pytest -q -m gpu tests/probes
fi
for w in "${workloads[@]}"; do
  python benchmarks/bench_probes.py --workload "$w" --device "$DEVICE" --json --skip-default \
    | tail -n 1 | tee "$RESULTS/probes_$w.json"
done
for dt in "${dtypes[@]}"; do
  python benchmarks/bench_sweep.py "${sweep_args[@]}" --device "$DEVICE" --dtype "$dt" --json \
    | tail -n 1 | tee "$RESULTS/sweep_$dt.json"
done
python - "$RESULTS" <<'EOF'
import json
import sys
from pathlib import Path

results = Path(sys.argv[1])
print(f"summary (JSON lines in {results}):")
for f in sorted(results.glob("sweep_*.json")):
    r = json.loads(f.read_text())
    print(
        f"  sweep {r['shape']} on {r['device']} ({r['dtype']}): "
        f"{r['checkpoints_per_hour']:.0f} checkpoints/hour, {r['sweep_s_per_checkpoint']:.2f} s "
        f"per checkpoint ({len(r['skills'])} skills x {r['examples']} examples), ratio "
        f"x{r['ratio']:.2f} to the plain forward, peak RSS {r['peak_rss_mb']:.0f} MB"
    )
for f in sorted(results.glob("probes_*.json")):
    r = json.loads(f.read_text())
    print(f"  probes {f.stem.split('_', 1)[1]} on {r['device']}: {r['probes_per_s']:.0f} probes/s")
EOF
