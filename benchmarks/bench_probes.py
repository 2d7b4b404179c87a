"""Benchmark the fused probe engine against scikit-learn loops on seeded residual-stream-like data.

Usage::

    python benchmarks/bench_probes.py --workload W1|W1-full|W2 [--device cpu|cuda] [--json]
    python benchmarks/bench_probes.py --workload W1-calibrated [--draws 30] [--splits 5] [--json]

Columns: ``fused_s`` (curriculens fused engine), ``sklearn_s`` (StandardScaler + LogisticRegression
at its best: one BLAS thread per fit, fits spread over all cores with joblib), ``sklearn_default_s``
(the same loop with default threads in one process; on big workloads timed on a subset and
extrapolated, see ``sklearn_default_measured_fits``) and, when installed, ``probekit_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import ndtri
from threadpoolctl import threadpool_info, threadpool_limits

from curriculens.probes.fused import (
    _preconditioner_rank,
    carve_validation,
    fit_logistic_batch,
)

GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


@dataclass(frozen=True, kw_only=True)
class Workload:
    name: str
    n_skills: int
    n_layers: int
    n: int
    n_train: int
    d: int
    every: int = 1  # keep every k-th activation set
    grid: tuple[float, ...] = (1.0,)
    control: bool = False


WORKLOADS = {
    "W1": Workload(name="W1", n_skills=8, n_layers=13, n=4000, n_train=3200, d=768),
    "W1-full": Workload(
        name="W1-full",
        n_skills=8,
        n_layers=13,
        n=4000,
        n_train=3200,
        d=768,
        every=4,
        grid=GRID,
        control=True,
    ),
    "W2": Workload(name="W2", n_skills=4, n_layers=6, n=2000, n_train=1600, d=128),
    # not in the issue: a 7B-class width, where the default preconditioner switches to a sketch
    "W-wide": Workload(name="W-wide", n_skills=4, n_layers=2, n=4000, n_train=3200, d=4096),
}


def make_data(w: Workload, seed: int = 0):
    """Residual-stream-like activation sets with a planted binary signal per (skill, layer).

    Features are a latent Gaussian with a decaying spectrum, mixed by a random rotation per layer,
    then given per-feature scales and offsets and a few outlier dimensions. The class means differ
    along a random latent direction by an amount that sets the Bayes accuracy per (skill, layer)
    between 0.56 and 0.97 (held-out accuracies land slightly below it).

    Returns:
        X ``[P, n, d]`` float32, labels ``[P, L, n]`` (task, and control when ``w.control``),
        train ``[P, n]``, and the (skill, layer) keys.
    """
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    d, n = w.d, w.n
    spectrum = torch.arange(1, d + 1, dtype=torch.float32) ** -0.6
    keys = [(s, layer) for layer in range(w.n_layers) for s in range(w.n_skills)]
    keys = keys[:: w.every]
    P = len(keys)
    X = np.empty((P, n, d), np.float32)
    labels = np.empty((P, 2 if w.control else 1, n), np.int64)
    mixes = {}
    for p, (s, layer) in enumerate(keys):
        if layer not in mixes:
            q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
            scales = torch.exp(torch.randn(d, generator=g) * 0.7)
            offsets = torch.randn(d, generator=g) * 2.0
            outliers = torch.randperm(d, generator=g)[:4]
            scales[outliers] *= 25.0
            mixes[layer] = (q, scales, offsets)
        q, scales, offsets = mixes[layer]
        depth = layer / max(w.n_layers - 1, 1)
        target = float(
            np.clip(0.56 + 0.41 * depth * (0.6 + 0.4 * (s + 1) / w.n_skills), 0.56, 0.97)
        )
        y = rng.integers(0, 2, n)
        H = torch.randn(n, d, generator=g) * spectrum
        v = torch.randn(d, generator=g)
        v = v / v.norm()
        # Bayes accuracy of two Gaussians with shared covariance diag(spectrum²) and means ±shift·v
        # is Φ(shift · ‖v / spectrum‖): set shift so that it equals the target
        shift = float(ndtri(target)) / float((v / spectrum).norm())
        H += torch.from_numpy((2 * y - 1).astype(np.float32))[:, None] * shift * v
        X[p] = ((H @ q) * scales + offsets).numpy()
        labels[p, 0] = y
        if w.control:
            types = rng.zipf(1.5, n) % 300  # token types; control label fixed per type
            labels[p, 1] = rng.integers(0, 2, 300)[types]
    train = np.zeros((P, n), bool)
    for p in range(P):
        train[p, rng.permutation(n)[: w.n_train]] = True
    return X, labels, train, keys


# ----------------------------------------------------------------------------------------------
# scikit-learn baselines
# ----------------------------------------------------------------------------------------------


def _sk_fit_score(X, y, fit_rows, eval_rows, C):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(X[fit_rows])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LogisticRegression(C=C, max_iter=1000).fit(sc.transform(X[fit_rows]), y[fit_rows])
    return float(clf.score(sc.transform(X[eval_rows]), y[eval_rows]))


def _sk_job(X, y, train, val, grid):
    """One (activation set, label set): pick C on val (ties: first), refit, score held-out."""
    if len(grid) == 1:
        return grid[0], _sk_fit_score(X, y, train, ~train, grid[0])
    fit = train & ~val
    accs = [_sk_fit_score(X, y, fit, val, C) for C in grid]
    C = grid[int(np.argmax(accs))]
    return C, _sk_fit_score(X, y, train, ~train, C)


def _sk_job_pinned(X, y, train, val, grid):
    with threadpool_limits(limits=1):
        return _sk_job(X, y, train, val, grid)


def run_sklearn_best(X, labels, train, val, grid, n_jobs):
    from joblib import Parallel, delayed

    jobs = [(p, lab) for p in range(X.shape[0]) for lab in range(labels.shape[1])]
    out = Parallel(n_jobs=n_jobs, backend="loky")(
        delayed(_sk_job_pinned)(X[p], labels[p, lab], train[p], val[p], grid) for p, lab in jobs
    )
    acc = np.full(labels.shape[:2], np.nan)
    Cs = np.full(labels.shape[:2], np.nan)
    for (p, lab), (C, a) in zip(jobs, out, strict=True):
        acc[p, lab], Cs[p, lab] = a, C
    return acc, Cs


def run_sklearn_default(X, labels, train, val, grid, max_jobs):
    jobs = [(p, lab) for p in range(X.shape[0]) for lab in range(labels.shape[1])][:max_jobs]
    for p, lab in jobs:
        _sk_job(X[p], labels[p, lab], train[p], val[p], grid)
    return len(jobs)


def run_probekit(X, labels, train, grid, device):
    """Optional third column: probekit's batched logistic fitter, when it is installed.

    probekit (0.4) is a benchmark-only dependency; its fitter needs only torch, so
    ``pip install --no-deps probekit`` is enough. All task probes go into one batched call on the
    training rows (``c_param`` has sklearn's C meaning, and it standardizes internally), then
    each is scored on its held-out rows. Returns ``(seconds, held-out accuracy [P])``, or
    ``(None, None)`` with the reason on stderr.
    """
    try:
        from probekit.fitters.batch.logistic import (  # type: ignore[import-not-found]
            fit_logistic_batch as pk_fit,
        )
    except ImportError:
        print("probekit not installed: column skipped", file=sys.stderr)
        return None, None
    n_tr = train.sum(1)
    if len(grid) != 1 or (n_tr != n_tr[0]).any():
        print("probekit column needs one C and equal train sizes: skipped", file=sys.stderr)
        return None, None
    P = X.shape[0]
    xs = torch.from_numpy(np.stack([X[p][train[p]] for p in range(P)])).to(device)
    ys = torch.from_numpy(np.stack([labels[p, 0][train[p]] for p in range(P)])).to(device)
    try:
        start = time.perf_counter()
        probes = pk_fit(xs, ys, c_param=float(grid[0]))
        if device != "cpu":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        acc = np.array(
            [
                float(
                    (
                        np.asarray(probes.predict(X[p][~train[p]]))[p] == labels[p, 0][~train[p]]
                    ).mean()
                )
                for p in range(P)
            ]
        )
        return seconds, acc
    except Exception as err:  # noqa: BLE001 - an optional column must not sink the benchmark
        print(f"probekit call failed ({err!r}): column skipped", file=sys.stderr)
        return None, None


# ----------------------------------------------------------------------------------------------
# Floor of the design: Gram FLOPs plus passes over X, at this box's measured rates
# ----------------------------------------------------------------------------------------------


def measure_rates(n, d, clock=time.perf_counter):
    """Single-thread syrk GFLOP/s (numpy ``A.T @ A``) and torch matvec bandwidth in GB/s, timed
    by ``clock`` (``time.thread_time`` gives the rates per second of CPU time, which other jobs
    on the box inflate less than wall time)."""
    A = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    with threadpool_limits(limits=1):
        _ = A.T @ A
        t0 = clock()
        for _ in range(3):
            _ = A.T @ A
        gram_s = (clock() - t0) / 3
    At = torch.from_numpy(A)
    v = torch.randn(d)
    torch.mv(At, v)
    t0 = clock()
    for _ in range(20):
        torch.mv(At, v)
    mv_s = (clock() - t0) / 20
    return n * d * d / gram_s / 1e9, A.nbytes / mv_s / 1e9


def measure_engine_gram_rate(n, d, clock=time.perf_counter):
    """Single-thread GFLOP/s, counted as ``n·d²`` like the syrk rate, of the Gram routine the
    engine runs (``curriculens.probes._kernels.gram``: blocks on oneDNN where it has them),
    timed by ``clock`` on the same ``n × d`` block as :func:`measure_rates`."""
    from curriculens.probes._kernels import gram

    A = torch.from_numpy(np.random.default_rng(0).normal(size=(n, d)).astype(np.float32))
    out, zt = torch.empty(d, d), torch.empty(d, n)
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            gram(A, out, zt)
            t0 = clock()
            for _ in range(3):
                gram(A, out, zt)
            gram_s = (clock() - t0) / 3
    finally:
        torch.set_num_threads(prev)
    return n * d * d / gram_s / 1e9


def floor_seconds(res, train, val, d, cores, gflops, gbs, grid, rank=None):
    """The floor of this design at this box's measured single-thread rates, spread over cores.

    Gram FLOPs (``n·d²`` with syrk; one Gram per activation set, on the fit split when a C grid
    is searched, none for the refit, which reuses it; with a rank-``r`` Nyström sketch instead,
    its two products, ``2·n·d·r`` multiply-adds, counted at the syrk rate) plus the passes the
    solver made over X (``res.n_passes`` evaluations, each reading the training block twice).
    """
    n_tr = train.sum(1)
    n_gram = n_tr - val.sum(1) if grid else n_tr
    work = d * d if rank is None else 2 * d * rank
    gram = float((n_gram * work).sum()) / (gflops * 1e9)
    passes = float((2 * res.n_passes * n_tr * d * 4).sum()) / (gbs * 1e9)
    return (gram + passes) / cores


def factor_seconds(n_sets, d, cores, gflops, rank=None):
    """The factorizations the floor leaves out: one ``d³/3`` Cholesky per activation set (``r³``
    work for a rank-``r`` sketch), at the syrk rate, spread over cores."""
    work = (d if rank is None else rank) ** 3 / 3
    return n_sets * work / (gflops * 1e9) / cores


# ----------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=[*sorted(WORKLOADS), "W1-calibrated"], default="W2")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--default-fits",
        type=int,
        default=None,
        help="time the default-threads sklearn loop on this many problems and extrapolate "
        "(default: all for W2, 8 otherwise)",
    )
    ap.add_argument("--skip-default", action="store_true")
    ap.add_argument(
        "--probekit",
        action="store_true",
        help="add probekit's batched fitter as a column when installed (slow on CPU)",
    )
    ap.add_argument("--draws", type=int, default=30, help="W1-calibrated: control draws")
    ap.add_argument("--splits", type=int, default=5, help="W1-calibrated: group splits (k)")
    ap.add_argument(
        "--sample-fits", type=int, default=24, help="W1-calibrated: sklearn fits timed, then scaled"
    )
    ap.add_argument(
        "--calibrated-base",
        choices=sorted(WORKLOADS),
        default="W1",
        help="W1-calibrated: the workload whose sets it calibrates (W2 for a quick check)",
    )
    args = ap.parse_args(argv)
    if args.workload == "W1-calibrated":
        return main_calibrated(args)
    w = WORKLOADS[args.workload]
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print

    t0 = time.perf_counter()
    X, labels, train, keys = make_data(w, args.seed)
    log(f"data {X.shape} labels {labels.shape} in {time.perf_counter() - t0:.1f}s")
    val = carve_validation(train, fraction=0.2, seed=args.seed)
    P, L = labels.shape[:2]
    # On a GPU the activations of a sweep are already there (the forward pass made them), so the
    # host-to-device copy is timed apart (h2d_s), not inside fused_s.
    Xf, h2d_s = X, None
    if args.device != "cpu":
        t0 = time.perf_counter()
        Xf = torch.from_numpy(X).to(args.device)
        torch.cuda.synchronize()
        h2d_s = time.perf_counter() - t0
        log(f"host-to-device copy of X {h2d_s:.2f}s (not in fused_s)")

    # fused: each CPU worker thread runs torch and BLAS on one thread
    torch.set_num_threads(1)
    n_jobs = args.jobs if args.device == "cpu" else 1
    with threadpool_limits(limits=1):
        # warm-up (lazy torch/LAPACK init, device context), as the sklearn pool is warmed below
        fit_logistic_batch(
            Xf[:2, :300],
            labels[:2, :, :300],
            train=train[:2, :300],
            Cs=w.grid,
            device=args.device,
            n_jobs=n_jobs,
            chunk_size=1,
        )
        if args.device != "cpu":
            torch.cuda.synchronize()

        cpu = {}

        def timed_fit(**kw):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fit_logistic_batch(
                Xf, labels, train=train, Cs=w.grid, val=val, device=args.device, n_jobs=n_jobs, **kw
            )
            if args.device != "cpu":
                torch.cuda.synchronize()
            cpu["s"] = time.process_time() - c0
            return out, time.perf_counter() - t0

        res, fused_s = timed_fit()
        fused_cpu_s = cpu["s"]
        log(f"fused {fused_s:.2f}s  iters mean {res.n_iter.mean():.1f} max {res.n_iter.max()}")
        rank = _preconditioner_rank("auto", w.d)
        exact, fused_exact_s = None, None
        if rank is not None:  # the default chose a Nyström sketch: time the exact Gram beside it
            exact, fused_exact_s = timed_fit(precond_rank=None)
            log(f"fused, exact Gram preconditioner {fused_exact_s:.2f}s")

    run_sklearn_best(
        X[:2, :300], labels[:2, :, :300], train[:2, :300], val[:2, :300], w.grid, args.jobs
    )  # start and warm the worker pool
    t0 = time.perf_counter()
    sk_acc, sk_C = run_sklearn_best(X, labels, train, val, w.grid, args.jobs)
    sklearn_s = time.perf_counter() - t0
    log(f"sklearn best ({args.jobs} procs × 1 thread) {sklearn_s:.2f}s")

    sklearn_default_s, measured = None, 0
    if not args.skip_default:
        n_def = args.default_fits or (P * L if w.name == "W2" else 8)
        torch.set_num_threads(os.cpu_count() or 1)
        t0 = time.perf_counter()
        measured = run_sklearn_default(X, labels, train, val, w.grid, n_def)
        sklearn_default_s = (time.perf_counter() - t0) * (P * L) / measured
        log(f"sklearn default threads: {sklearn_default_s:.2f}s ({measured} of {P * L} timed)")

    probekit_s, probekit_acc = (
        run_probekit(X, labels, train, w.grid, args.device) if args.probekit else (None, None)
    )

    diff = np.abs(res.acc - sk_acc)
    gflops, gbs = measure_rates(w.n_train, w.d)
    floor = floor_seconds(res, train, val, w.d, args.jobs, gflops, gbs, len(w.grid) > 1, rank)
    # beside the floor: the same floor with the Gram at the rate of the engine's own Gram
    # routine, which on a CPU where numpy's OpenBLAS runs narrower kernels than oneDNN beats
    # the syrk rate the floor assumes (then floor_fraction overstates how near the floor is)
    gflops_engine = measure_engine_gram_rate(w.n_train, w.d)
    floor_engine = floor_seconds(
        res, train, val, w.d, args.jobs, gflops_engine, gbs, len(w.grid) > 1, rank
    )
    gflops_cpu, gbs_cpu = measure_rates(w.n_train, w.d, time.thread_time)
    floor_cpu = floor_seconds(
        res, train, val, w.d, args.jobs, gflops_cpu, gbs_cpu, len(w.grid) > 1, rank
    )
    blas = sorted({f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info()})
    out = {
        "workload": w.name,
        "device": args.device,
        "n_probes": int(P * L),
        "n_activation_sets": int(P),
        "fused_s": round(fused_s, 3),
        "h2d_s": None if h2d_s is None else round(h2d_s, 3),
        "sklearn_s": round(sklearn_s, 3),
        "sklearn_default_s": None if sklearn_default_s is None else round(sklearn_default_s, 3),
        "sklearn_default_measured_fits": measured,
        "probekit_s": None if probekit_s is None else round(probekit_s, 3),
        "probekit_max_abs_acc_diff": None
        if probekit_acc is None
        else round(float(np.nanmax(np.abs(probekit_acc - sk_acc[:, 0]))), 5),
        "probekit_mean_abs_acc_diff": None
        if probekit_acc is None
        else round(float(np.nanmean(np.abs(probekit_acc - sk_acc[:, 0]))), 5),
        "precond": "exact Gram" if rank is None else f"Nystrom rank {rank}",
        "fused_exact_s": None if fused_exact_s is None else round(fused_exact_s, 3),
        "exact_max_abs_acc_diff": None
        if fused_exact_s is None
        else round(float(np.nanmax(np.abs(exact.acc - sk_acc))), 5),
        "speedup": round(sklearn_s / fused_s, 2),
        "speedup_vs_default": None
        if sklearn_default_s is None
        else round(sklearn_default_s / fused_s, 2),
        "max_abs_acc_diff": round(float(np.nanmax(diff)), 5),
        "mean_abs_acc_diff": round(float(np.nanmean(diff)), 5),
        "C_agreement": round(float(np.mean(sk_C == res.C)), 3),
        "acc_range": [
            round(float(np.nanmin(res.acc[:, 0])), 3),
            round(float(np.nanmax(res.acc[:, 0])), 3),
        ],
        "fused_iters_mean": round(float(res.n_iter.mean()), 1),
        "fused_passes_mean": round(float(res.n_passes.mean()), 1),
        "probes_per_s": round(P * L / fused_s, 1),
        "floor_s": round(floor, 3),
        "floor_fraction": round(floor / fused_s, 3),
        # beside the floor (unchanged): the same floor in CPU seconds (rates timed by thread CPU
        # time) against the CPU time of the fused run, which other jobs taking cores inflate
        # less (not their use of cache and memory); and the floor plus the d³/3 factorization
        # per activation set at the syrk rate, which the floor leaves out
        "fused_cpu_s": round(fused_cpu_s, 3),
        "floor_cpu_s": round(floor_cpu * args.jobs, 3),
        "floor_fraction_cpu": round(floor_cpu * args.jobs / fused_cpu_s, 3),
        "floor_with_factor_s": round(floor + factor_seconds(P, w.d, args.jobs, gflops, rank), 3),
        "floor_engine_gram_s": round(floor_engine, 3),
        "floor_fraction_engine_gram": round(floor_engine / fused_s, 3),
        "gram_gflops_1thread": round(gflops, 1),
        "engine_gram_gflops_1thread": round(gflops_engine, 1),
        "mv_gbs_1thread": round(gbs, 1),
        "threads": {
            "jobs": args.jobs,
            "fused_torch_threads_per_worker": 1,
            "fused_blas_threads_per_worker": 1,
            "sklearn_best": f"{args.jobs} procs x 1 BLAS thread",
            "sklearn_default": "1 proc, default BLAS threads",
            "blas": blas,
            "cpu_count": os.cpu_count(),
        },
    }
    if args.json:
        print(json.dumps(out))
    else:
        rows = [
            ("fused", fused_s),
            ("fused, exact Gram", fused_exact_s),
            ("sklearn best", sklearn_s),
            ("sklearn default", sklearn_default_s),
            ("probekit", probekit_s),
        ]
        print(f"\nworkload {w.name}: {P * L} probes on {P} activation sets, device {args.device}")
        print(f"{'engine':<18}{'seconds':>10}{'speedup':>10}")
        for name, s in rows:
            if s is not None:
                print(f"{name:<18}{s:>10.2f}{s / fused_s:>10.1f}x")
        print(
            f"|Δacc| mean {out['mean_abs_acc_diff'] * 100:.2f} pp, max "
            f"{out['max_abs_acc_diff'] * 100:.2f} pp; C agreement {out['C_agreement']:.2f}; "
            f"floor {floor:.2f}s ({out['floor_fraction']:.0%} of it reached; "
            f"{out['floor_fraction_engine_gram']:.0%} of the floor at the engine's Gram rate)"
        )
    return out


# ----------------------------------------------------------------------------------------------
# W1-calibrated: what "Calibrated verdicts" fits per checkpoint for W1's 104 (skill, hook) pairs
# ----------------------------------------------------------------------------------------------


def make_calibrated(draws, n_splits, seed=0, base="W1"):
    """W1's activation sets plus one lexical-baseline set per skill, with the label sets and
    splits of a calibrated checkpoint.

    Each (skill, hook) set gets its task labels, ``draws`` Hewitt & Liang control draws (a random
    class per token type, types Zipf-distributed as in W1-full) and ``n_splits`` splits: split 0
    is W1's, the others fresh seeded 80/20 splits (the synthetic rows have no groups). Each
    skill's lexical set (an independent d = 768 set with a weak signal, like W1's first layer)
    gets its task labels. Problems: the task on every split, the control draws on split 0.
    Returns X ``[P, n, d]``, labels ``[P, 1 + draws, n]``, splits ``[P, S, n]``, pairs
    ``[P, S, 1 + draws]`` and the number of hook sets.
    """
    w = WORKLOADS[base]
    X, labels, train, _keys = make_data(w, seed)
    lex_w = Workload(
        name="lexical", n_skills=w.n_skills, n_layers=1, n=w.n, n_train=w.n_train, d=w.d
    )
    X_lex, labels_lex, train_lex, _ = make_data(lex_w, seed + 1)
    n_hook = X.shape[0]
    X = np.concatenate([X, X_lex])
    rng = np.random.default_rng([seed, 30])
    P, n = X.shape[0], w.n
    y = np.empty((P, 1 + draws, n), np.int64)
    y[:, 0] = np.concatenate([labels[:, 0], labels_lex[:, 0]])
    for p in range(P):
        types = rng.zipf(1.5, n) % 300
        y[p, 1:] = rng.integers(0, 2, (draws, 300))[:, types]
    splits = np.zeros((P, n_splits, n), bool)
    splits[:, 0] = np.concatenate([train, train_lex])
    for s in range(1, n_splits):
        for p in range(P):
            splits[p, s, rng.permutation(n)[: w.n_train]] = True
    pairs = np.zeros((P, n_splits, 1 + draws), bool)
    pairs[:, :, 0] = True
    pairs[:n_hook, 0, 1:] = True  # the lexical baseline has no controls in the sweep
    return X, y, splits, pairs, n_hook


def _sk_sample(X, y, splits, picks, n_jobs):
    from joblib import Parallel, delayed

    def one(p, s, lab):
        with threadpool_limits(limits=1):
            return _sk_fit_score(X[p], y[p, lab], splits[p, s], ~splits[p, s], 1.0)

    return np.array(Parallel(n_jobs=n_jobs, backend="loky")(delayed(one)(*t) for t in picks))


def main_calibrated(args):
    """``--workload W1-calibrated``: the calibrated fits in one shared solve, W1's fused fit in
    the same process, sklearn one fit at a time on a sample (extrapolated), and the floor."""
    from curriculens.probes.calibrated import fit_calibrated_batch

    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    t0 = time.perf_counter()
    X, y, splits, pairs, n_hook = make_calibrated(
        args.draws, args.splits, args.seed, args.calibrated_base
    )
    P, S, L = pairs.shape
    d, n = X.shape[2], X.shape[1]
    log(f"data {X.shape}, {int(pairs.sum())} problems, in {time.perf_counter() - t0:.1f}s")
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        fit_calibrated_batch(X[:2, :300], y[:2, :, :300], splits[:2, :, :300], n_jobs=args.jobs)
        fit_logistic_batch(
            X[:2, :300], y[:2, :1, :300], train=splits[:2, 0, :300], n_jobs=args.jobs
        )
        t0, c0 = time.perf_counter(), time.process_time()
        res = fit_calibrated_batch(X, y, splits, pairs=pairs, n_jobs=args.jobs)
        fused_s, fused_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        log(
            f"fused calibrated {fused_s:.2f}s (cpu {fused_cpu_s:.2f}s), passes mean "
            f"{res.n_passes.mean():.1f}"
        )
        t0, c0 = time.perf_counter(), time.process_time()
        w1 = fit_logistic_batch(
            X[:n_hook], y[:n_hook, :1], train=splits[:n_hook, 0], n_jobs=args.jobs
        )
        w1_s, w1_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        log(f"fused W1 (task only, split 0, same process) {w1_s:.2f}s")
    fits = np.argwhere(pairs)
    rng = np.random.default_rng([args.seed, 31])
    picks = [
        tuple(int(v) for v in fits[i])
        for i in rng.choice(len(fits), args.sample_fits, replace=False)
    ]
    _sk_sample(X, y, splits, picks[:2], args.jobs)  # start and warm the worker pool
    t0 = time.perf_counter()
    sk_acc = _sk_sample(X, y, splits, picks, args.jobs)
    sk_sample_s = time.perf_counter() - t0
    sk_extrap_s = sk_sample_s * len(fits) / len(picks)
    log(
        f"sklearn {len(picks)} fits {sk_sample_s:.2f}s -> {sk_extrap_s:.0f}s for "
        f"{len(fits)} (extrapolated)"
    )
    ours = np.array([res.acc[t] for t in picks])
    diff = np.abs(ours - sk_acc)
    w1_diff = np.abs(w1.acc[:, 0] - res.acc[:n_hook, 0, 0])

    gflops, gbs = measure_rates(int(splits[0, 0].sum()), d)
    n_tr0 = splits[:, 0].sum(1)
    held = (~splits[:, 1:]).sum((1, 2))
    gram_rows = n_tr0 + (n - n_tr0 if S > 1 else 0) + held  # split 0, the rest, held-out downdates
    gram = float((gram_rows * d * d).sum()) / (gflops * 1e9)
    passes = float((2 * res.n_passes * n * d * 4).sum()) / (gbs * 1e9)
    products = float((res.n_iter * 2 * 2 * n * d).sum()) / (gflops * 1e9)
    floor = (gram + passes) / args.jobs
    floor_products = (gram + products) / args.jobs
    gflops_engine = measure_engine_gram_rate(int(splits[0, 0].sum()), d)
    floor_engine = (gram * gflops / gflops_engine + passes) / args.jobs
    out = {
        "workload": "W1-calibrated" if args.calibrated_base == "W1" else "calibrated",
        "base": args.calibrated_base,
        "device": "cpu",
        "n_activation_sets": int(P),
        "n_hook_sets": int(n_hook),
        "n_lexical_sets": int(P - n_hook),
        "control_draws": args.draws,
        "splits": args.splits,
        "n_problems": int(pairs.sum()),
        "fused_s": round(fused_s, 3),
        "fused_cpu_s": round(fused_cpu_s, 3),
        "w1_fused_s_same_process": round(w1_s, 3),
        "ratio_to_w1": round(fused_s / w1_s, 2),
        "w1_fused_cpu_s_same_process": round(w1_cpu_s, 3),
        "ratio_to_w1_cpu": round(fused_cpu_s / w1_cpu_s, 2),
        "sklearn_sample_fits": len(picks),
        "sklearn_sample_s": round(sk_sample_s, 3),
        "sklearn_extrapolated_s": round(sk_extrap_s, 1),
        "speedup_vs_sklearn_extrapolated": round(sk_extrap_s / fused_s, 1),
        "mean_abs_acc_diff_sample": round(float(diff.mean()), 5),
        "max_abs_acc_diff_sample": round(float(diff.max()), 5),
        "max_abs_acc_diff_vs_w1_task": round(float(np.nanmax(w1_diff)), 5),
        "fused_passes_mean": round(float(res.n_passes.mean()), 1),
        "fused_iters_mean": round(float(res.n_iter[pairs].mean()), 1),
        "converged": round(float(res.converged[pairs].mean()), 4),
        # the W1 floor's definition (Gram FLOPs + passes at the measured bandwidth), and beside
        # it one that counts each problem's products (2 reads x 2·n·d per iteration) at the
        # syrk rate: with 35 problems a set, a read is compute-bound, not memory-bound
        "floor_s": round(floor, 3),
        "floor_fraction": round(floor / fused_s, 3),
        "floor_products_s": round(floor_products, 3),
        "floor_products_fraction": round(floor_products / fused_s, 3),
        "floor_engine_gram_s": round(floor_engine, 3),
        "floor_fraction_engine_gram": round(floor_engine / fused_s, 3),
        "gram_gflops_1thread": round(gflops, 1),
        "engine_gram_gflops_1thread": round(gflops_engine, 1),
        "mv_gbs_1thread": round(gbs, 1),
        "threads": {
            "jobs": args.jobs,
            "fused": f"{args.jobs} worker threads x 1 torch/BLAS thread",
            "sklearn": f"{args.jobs} procs x 1 BLAS thread",
        },
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:34s} {v}")
    return out


if __name__ == "__main__":
    main()
