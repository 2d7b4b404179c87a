"""Benchmark a whole sweep against the model's own forward pass.

It builds ``--checkpoints N`` randomly initialised GPT-NeoX checkpoints locally (distinct seeds;
``--shape pythia-160m``: 12 layers, d_model 768, vocab 50,304; ``--shape tiny``: 2 layers,
d_model 32) with ``save_pretrained`` and a byte-level BPE tokenizer trained here on the skill
suites' own text (no download), then times, in one run:

* ``sweep_s``: the sweep the CLI runs (``curriculens sweep --dir ROOT``, i.e.
  :func:`curriculens.pipeline.run.sweep` on the local series), progress bars off;
  ``sweep_s_per_checkpoint`` and ``checkpoints_per_hour`` follow from it;
* ``raw_forward_s``: a plain Hugging Face ``model(ids).logits`` over exactly the same token
  sequences of one checkpoint, batched the same way (per skill, sorted by length,
  ``batch_size`` rows, right-padded), with the model loaded apart (``raw_load_s``); it runs once
  before and once after the sweep (``raw_forward_runs_s``) and ``raw_forward_s`` is their mean,
  so neither side alone pays the process's warm-up;
* ``ratio`` = sweep_s / (N x raw_forward_s);
* ``stages``: the sweep's own thread split into exclusive stage times (a stage nested in another
  is not counted twice; they sum to ``sweep_s``): ``load``, ``fingerprint`` (the one-pass
  :func:`~curriculens.checkpoints.scan_weights`: fingerprint and non-finite check),
  ``weight_check`` (a separate non-finite scan; 0 since the one-pass scan), ``bridge``
  (building the TransformerBridge), ``encode`` (drawing and tokenizing items), ``forward``
  (``bridge.run_with_hooks`` less its hooks), ``gather`` (the hooks that gather read positions),
  ``behavior`` (log-probabilities and argmax in ``capture`` after the forward, plus
  ``score_behavior``; split in ``behavior_detail``), ``probes``, ``scoring`` (building rows),
  ``wait`` (the sweep's thread waiting on its scoring worker: a full queue, or the last
  checkpoint's probes), ``store`` (every SQLite call), ``audit`` (the leak audit at the end) and
  ``other`` (the rest);
* ``worker_stages``: the same stages on the scoring worker thread (``SweepConfig.overlap``),
  which overlap the sweep's thread and are not part of ``sweep_s``'s sum.

``--cli`` times the command users run instead: ``curriculens sweep ROOT --out OUT`` in a fresh
process, at its defaults (threads chosen by the sweep, task vectors on, 300 examples unless
``--examples`` is given), once at the default thread choice and, with ``--threads N``, once more
at N. Each run reports ``sweep_s`` (the command's wall time, start-up and imports included),
``peak_rss_mb`` (the child's, sampled every 10 ms), the thread count the sweep used and why (from
the run's metadata), and the plain forward at that same thread count: ``raw_load_s`` +
``raw_forward_s`` per checkpoint over the same token sequences (the skills' items, as above),
measured in this process. ``ratio`` = sweep_s / (N x (raw_load_s + raw_forward_s)): the CLI
against loading each checkpoint and running its forward, nothing else.

The stages are measured by wrapping those functions for the duration of the run (a light timer
hook; nothing in the library changes). ``peak_rss_mb`` is the process's peak resident memory
during the sweep, sampled every 2 ms, and ``rss_at_loads_mb`` its resident memory as each
checkpoint starts to load (flat when nothing is kept from one checkpoint to the next). On CUDA
every stage boundary synchronizes.

    python benchmarks/bench_sweep.py [--shape pythia-160m|tiny] [--skills ...] [--examples N]
        [--checkpoints N] [--device cpu|cuda] [--dtype float32|bfloat16|float16]
        [--threads 1] [--batch-size 64] [--overlap on|off] [--cli] [--json]
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import torch

DEFAULT_SKILLS = ("en_agreement", "en_capital", "en_add1")


def _neox_config(shape: str, vocab: int):
    from curriculens.toy.model import neox_config

    kw = {}
    if shape == "pythia-160m":
        kw = dict(d_model=768, n_layers=12, n_heads=12, d_mlp=3072, max_positions=2048)
        vocab = 50304
    return neox_config(
        vocab, **kw, rotary_pct=0.25, bos_token_id=0, eos_token_id=0, tie_word_embeddings=False
    )


def _tokenizer(vocab: int):
    """A byte-level BPE (GPT-2/Pythia style) trained on the registered skills' text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from curriculens.skills import list_skills

    texts = []
    for skill in list_skills():
        texts += [f"{e.prompt} {e.target}" for e in skill.examples(40, seed=1)]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )


def build_checkpoint(root: Path, shape: str, *, tokenizer_vocab: int, n: int = 1) -> Path:
    """Save ``n`` random-init GPT-NeoX models of ``shape`` (seeds 0..n-1, so every fingerprint
    differs) and their tokenizer as ``root/step0``, ``root/step1``, ..."""
    from curriculens.toy.model import build_neox

    tok = _tokenizer(tokenizer_vocab)
    for i in range(n):
        model = build_neox(_neox_config(shape, len(tok)), seed=i)
        d = root / f"step{i}"
        model.save_pretrained(d)
        tok.save_pretrained(d)
        info = {"step": i, "tokens": i * 2048}
        (d / "curriculens_checkpoint.json").write_text(json.dumps(info))
        del model
    return root


class StageTimer:
    """Exclusive wall time per stage: entering a stage pauses the one it is nested in.

    Each thread keeps its own stack: the thread that made the timer fills ``times`` (which sum
    to the sweep's wall time), any other (the sweep's scoring worker) fills ``worker_times``,
    work that overlaps the first thread's.
    """

    def __init__(self, cuda: bool):
        self.cuda = cuda
        self.times: dict[str, float] = {}
        self.worker_times: dict[str, float] = {}
        self.main = threading.get_ident()
        self.local = threading.local()

    @property
    def stack(self) -> list[str]:
        if not hasattr(self.local, "stack"):
            self.local.stack, self.local.since = [], time.perf_counter()
        return self.local.stack

    def _switch(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        stack = self.stack
        if stack:
            top = stack[-1]
            times = self.times if threading.get_ident() == self.main else self.worker_times
            times[top] = times.get(top, 0.0) + now - self.local.since
        self.local.since = now
        return now

    def wrap(self, stage: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            self._switch()
            self.stack.append(stage)
            try:
                return fn(*args, **kwargs)
            finally:
                self._switch()
                self.stack.pop()

        return timed


class _Patches:
    """Set attributes for the duration of a ``with`` block, then put the originals back."""

    def __init__(self):
        self.saved: list[tuple[object, str, object]] = []

    def set(self, obj, name: str, value) -> None:
        self.saved.append((obj, name, vars(obj)[name]))
        setattr(obj, name, value)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for obj, name, value in reversed(self.saved):
            setattr(obj, name, value)


def _instrument(timer: StageTimer, patches: _Patches) -> None:
    import curriculens.pipeline.run as run_mod
    from curriculens.checkpoints import Checkpoint
    from curriculens.store import Store

    try:  # the sweep's plan and one checkpoint's measurement, in their own modules
        import curriculens.pipeline.measure as measure_mod
        import curriculens.pipeline.plan as plan_mod
    except ImportError:  # before issue 23: all in run.py
        measure_mod = plan_mod = run_mod
    w = timer.wrap
    patches.set(Checkpoint, "load", w("load", Checkpoint.load))
    patches.set(run_mod, "fingerprint", w("fingerprint", run_mod.fingerprint))
    patches.set(measure_mod, "nonfinite_weights", w("weight_check", measure_mod.nonfinite_weights))
    try:  # the one-pass scan (fingerprint and non-finite check), where the loader calls it
        import curriculens.pipeline.loading as loading_mod
    except ImportError:  # before issue 18: fingerprint and nonfinite_weights above
        pass
    else:
        patches.set(loading_mod, "scan_weights", w("fingerprint", loading_mod.scan_weights))
    score = "score" if "score" in vars(measure_mod) else "_score"
    if score in vars(measure_mod):  # rows and probes, after the forwards (maybe on a worker)
        patches.set(measure_mod, score, w("scoring", getattr(measure_mod, score)))
    try:
        from curriculens.pipeline.overlap import ScoringWorker
    except ImportError:  # before the scoring worker existed
        pass
    else:  # the sweep's thread waiting on the worker (a full queue, the last checkpoint)
        patches.set(ScoringWorker, "submit", w("wait", ScoringWorker.submit))
        patches.set(ScoringWorker, "close", w("wait", ScoringWorker.close))
    patches.set(plan_mod, "skill_items", w("encode", plan_mod.skill_items))
    for name in ("encode_items", "encode_skill", "check_context"):  # encode_items: kept encodings
        if name in vars(measure_mod):
            patches.set(measure_mod, name, w("encode", getattr(measure_mod, name)))
    m = measure_mod
    patches.set(m, "capture", w("behavior.logprobs", m.capture))
    patches.set(m, "score_behavior", w("behavior.score", m.score_behavior))
    patches.set(m, "fit_probe_tasks", w("probes", m.fit_probe_tasks))
    patches.set(m, "mdl_online_codelength", w("probes", m.mdl_online_codelength))
    patches.set(run_mod, "_warn_leaky", w("audit", run_mod._warn_leaky))
    for name in (
        "__init__",
        "close",
        "write_unit",
        "write_items",
        "set_meta",
        "get_meta",
        "done_units",
        "done_units_by_fingerprint",
    ):
        patches.set(Store, name, w("store", Store.__dict__[name]))

    load_bridge = measure_mod.load_bridge

    def timed_bridge(*args, **kwargs):
        bridge = load_bridge(*args, **kwargs)
        run_with_hooks = bridge.run_with_hooks

        def forward(*a, fwd_hooks=(), **kw):
            hooks = [(h, timer.wrap("gather", fn)) for h, fn in fwd_hooks]
            return run_with_hooks(*a, fwd_hooks=hooks, **kw)

        bridge.run_with_hooks = timer.wrap("forward", forward)
        return bridge

    patches.set(measure_mod, "load_bridge", w("bridge", timed_bridge))


def _rss_at_loads(patches: _Patches, rss: PeakRSS, out: list[float]) -> None:
    """Record the process's resident memory as each checkpoint starts to load (flatness)."""
    from curriculens.checkpoints import Checkpoint

    load = Checkpoint.load

    def noted(*args, **kwargs):
        out.append(round(rss.proc.memory_info().rss / 2**20, 1))
        return load(*args, **kwargs)

    patches.set(Checkpoint, "load", noted)


class PeakRSS:
    """The process's peak resident memory while inside, sampled by a thread."""

    def __init__(self, every_s: float = 0.002):
        self.proc = psutil.Process()
        self.every_s = every_s
        self.peak = 0

    def __enter__(self):
        self.peak = self.proc.memory_info().rss
        self.stop = threading.Event()

        def sample():
            while not self.stop.wait(self.every_s):
                self.peak = max(self.peak, self.proc.memory_info().rss)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def mb(self) -> float:
        return self.peak / 2**20


def time_sweep(root: Path, out: Path, config) -> tuple[float, dict, float, dict, list]:
    """``(sweep_s, exclusive stage seconds, peak RSS MB, worker stage seconds, RSS MB at each
    checkpoint's load)`` of the CLI's sweep of ``root``."""
    from curriculens.checkpoints import CheckpointSeries
    from curriculens.pipeline.run import sweep

    cuda = str(config.device).startswith("cuda")
    timer = StageTimer(cuda)
    series = CheckpointSeries.from_dir(root)
    gc.collect()
    at_loads: list[float] = []
    with _Patches() as patches, PeakRSS() as rss:
        _rss_at_loads(patches, rss, at_loads)
        _instrument(timer, patches)
        t0 = timer._switch()  # the stack is empty: nothing is charged
        timer.stack.append("other")
        sweep(series, out, config=config, progress=False)
        t1 = timer._switch()
        timer.stack.pop()
    return t1 - t0, timer.times, rss.mb, timer.worker_times, at_loads


@torch.no_grad()
def time_raw_forward(root: Path, config) -> tuple[float, float, dict]:
    """``(load_s, forward_s, counts)``: ``model(ids).logits`` over the sweep's own sequences."""
    from curriculens.activations import _batches, encode_skill
    from curriculens.checkpoints import CheckpointSeries
    from curriculens.pipeline.run import skill_items
    from curriculens.skills import get_skill

    cuda = str(config.device).startswith("cuda")
    t0 = time.perf_counter()
    model, tok = CheckpointSeries.from_dir(root)[0].load(device=config.device, dtype=config.dtype)
    load_s = time.perf_counter() - t0
    encoded = [
        encode_skill(s, list(skill_items(s, config).examples), tok)
        for s in map(get_skill, config.skills)
    ]
    batches = []
    for enc in encoded:
        for idx in _batches([len(q) for q in enc.seqs], config.batch_size, None):
            seqs = [enc.seqs[i] for i in idx]
            ids = torch.zeros((len(seqs), max(map(len, seqs))), dtype=torch.long)
            for r, q in enumerate(seqs):
                ids[r, : len(q)] = torch.tensor(q)
            batches.append(ids.to(config.device))
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for ids in batches:
        model(ids).logits  # noqa: B018 - the forward pass is what is timed
    if cuda:
        torch.cuda.synchronize()
    forward_s = time.perf_counter() - t0
    counts = {
        "sequences": sum(len(e.seqs) for e in encoded),
        "tokens": sum(len(q) for e in encoded for q in e.seqs),
        "padded_tokens": sum(b.numel() for b in batches),
        "batches": len(batches),
    }
    del model
    gc.collect()
    return load_s, forward_s, counts


def _cli_env() -> dict:
    """The environment of ``curriculens sweep`` as a user runs it: this process's curriculens
    first on the path, no thread caps of ours (OMP/MKL), no progress bars."""
    import curriculens

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    src = str(Path(curriculens.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def time_cli(root: Path, out: Path, skills, examples, threads: int | None) -> dict:
    """``curriculens sweep ROOT --out OUT`` in a child process: wall time, the child's peak RSS,
    and the threads the sweep chose (``threads=None``: the default) or was given."""
    from curriculens.store import Store

    cmd = [sys.executable, "-m", "curriculens", "sweep", str(root), "--out", str(out), "--quiet"]
    if skills:
        cmd += ["--skills", ",".join(skills)]
    if examples is not None:
        cmd += ["--examples", str(examples)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss)
        except psutil.Error:  # exited between poll and read
            break
        time.sleep(0.01)
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - t0
    if child.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({child.returncode}): {stderr.decode()[-2000:]}"
        )
    with Store(out, readonly=True) as s:
        meta = s.get_meta(f"run:{out.resolve().name}")
    return {
        "command": " ".join(cmd[2:]),
        "threads_flag": threads,
        "threads": meta["threads"]["torch"],
        "threads_chosen": meta.get("threads_chosen", "set"),
        "skills": list(meta["config"]["skills"]),
        "examples": meta["config"]["n_examples"],
        "task_vectors": meta["config"].get("task_vectors"),
        "sweep_s": round(wall, 3),
        "peak_rss_mb": round(peak / 2**20, 1),
    }


def run_cli(args) -> dict:
    """The CLI at its default thread choice (and at ``--threads N``), each against the plain
    forward at the same thread count."""
    from curriculens.pipeline.config import SweepConfig

    n = args.checkpoints
    vocab = 4096 if args.shape == "pythia-160m" else 400
    settings = [None] + ([args.threads] if args.threads is not None else [])
    runs = []
    before = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="bench_sweep_cli_") as tmp:
        root = build_checkpoint(Path(tmp) / "ckpts", args.shape, tokenizer_vocab=vocab, n=n)
        weights_mb = sum(f.stat().st_size for f in (root / "step0").glob("*.safetensors")) / 2**20
        try:
            for i, threads in enumerate(settings):
                cli = time_cli(root, Path(tmp) / f"run{i}", args.skills, args.examples, threads)
                torch.set_num_threads(cli["threads"])  # the plain forward at the same count
                config = SweepConfig(skills=tuple(cli["skills"]), n_examples=cli["examples"])
                load_s, forward_s, counts = time_raw_forward(root, config)
                plain = n * (load_s + forward_s)
                runs.append(
                    {
                        **cli,
                        "raw_load_s": round(load_s, 3),
                        "raw_forward_s": round(forward_s, 3),
                        "ratio": round(cli["sweep_s"] / plain, 3),
                        **counts,
                    }
                )
        finally:
            torch.set_num_threads(before)
    t0 = time.perf_counter()  # what every run's sweep_s includes before any work: its imports
    subprocess.run([sys.executable, "-c", "import curriculens.pipeline.run"], env=_cli_env())
    return {
        "path": "cli",
        "shape": args.shape,
        "checkpoints": n,
        "weights_mb": round(weights_mb, 1),
        "imports_s": round(time.perf_counter() - t0, 3),
        "runs": runs,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpus": psutil.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
    }


def _print_cli(r: dict) -> None:
    print(
        f"curriculens sweep (CLI, defaults) on {r['shape']} x {r['checkpoints']} checkpoint(s), "
        f"weights {r['weights_mb']:.0f} MB; a fresh process's imports {r['imports_s']:.2f} s"
    )
    for x in r["runs"]:
        flag = "default threads" if x["threads_flag"] is None else f"--threads {x['threads_flag']}"
        print(
            f"  {flag}: {x['threads']} thread(s) ({x['threads_chosen']}); "
            f"{len(x['skills'])} skills x {x['examples']} examples, {x['sequences']} sequences; "
            f"sweep {x['sweep_s']:.2f} s, peak RSS {x['peak_rss_mb']:.0f} MB; plain forward "
            f"{x['raw_forward_s']:.2f} s + load {x['raw_load_s']:.2f} s per checkpoint at "
            f"{x['threads']} thread(s); ratio x{x['ratio']:.2f}"
        )


STAGES = (
    "load",
    "fingerprint",
    "weight_check",
    "bridge",
    "encode",
    "forward",
    "gather",
    "behavior",
    "probes",
    "scoring",
    "wait",
    "store",
    "audit",
    "other",
)


def run(args) -> dict:
    # imported once per process by the CLI too; not a per-checkpoint cost
    import sklearn  # noqa: F401
    import transformer_lens  # noqa: F401
    import transformer_lens.model_bridge  # noqa: F401

    import curriculens.analysis.audit  # noqa: F401
    from curriculens.pipeline.config import SweepConfig

    if args.threads is None:
        args.threads = 1
    if args.examples is None:
        args.examples = 100
    if args.skills is None:
        args.skills = list(DEFAULT_SKILLS)
    torch.set_num_threads(args.threads)
    kw = {} if args.overlap is None else {"overlap": args.overlap == "on"}
    config = SweepConfig(
        skills=tuple(args.skills),
        n_examples=args.examples,
        device=args.device,
        threads=args.threads,
        batch_size=args.batch_size,
        dtype=args.dtype,
        **kw,
    )
    n = args.checkpoints
    vocab = 4096 if args.shape == "pythia-160m" else 400
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        root = build_checkpoint(Path(tmp) / "ckpts", args.shape, tokenizer_vocab=vocab, n=n)
        # the raw forward (of the first checkpoint) runs before and after the sweep, so neither
        # side alone gets the warm-up or the page cache; raw_forward_s is their mean
        raw_before = time_raw_forward(root, config)
        sweep_s, times, peak, worker, at_loads = time_sweep(root, Path(tmp) / "run", config)
        raw_load_s, raw_after_s, counts = time_raw_forward(root, config)
        raw_s = (raw_before[1] + raw_after_s) / 2
        weights_mb = sum(f.stat().st_size for f in (root / "step0").glob("*.safetensors")) / 2**20
    stages, behavior = _stages(times)
    worker_stages, _ = _stages(worker)
    return {
        "shape": args.shape,
        "skills": list(config.skills),  # suite names resolved
        "examples": args.examples,
        "device": args.device,
        "dtype": args.dtype,
        "threads": args.threads,
        "overlap": getattr(config, "overlap", False),
        "batch_size": args.batch_size,
        "checkpoints": n,
        **counts,
        "sweep_s": round(sweep_s, 3),
        "sweep_s_per_checkpoint": round(sweep_s / n, 3),
        "checkpoints_per_hour": round(3600 * n / sweep_s, 1),
        "raw_forward_s": round(raw_s, 6),  # tiny shape: ~1 ms, 3 decimals moved the ratio 8%
        "raw_forward_runs_s": [round(raw_before[1], 3), round(raw_after_s, 3)],
        "raw_load_s": round(raw_load_s, 3),
        "ratio": round(sweep_s / (n * raw_s), 3),
        "forward_vs_raw": round(stages["forward"] / (n * raw_s), 3),  # the bridge's forward alone
        "overhead_s": round(sweep_s - stages["forward"], 3),  # everything but that forward
        "peak_rss_mb": round(peak, 1),
        "weights_mb": round(weights_mb, 1),
        "rss_at_loads_mb": at_loads,
        "stages": {k: round(v, 3) for k, v in stages.items()},
        "worker_stages": {k: round(v, 3) for k, v in worker_stages.items() if v},
        "behavior_detail": {k: round(v, 3) for k, v in behavior.items()},
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpus": psutil.cpu_count(),
    }


def _stages(times: dict) -> tuple[dict, dict]:
    """``(stages, behavior detail)``: every stage of ``STAGES`` (0 when absent)."""
    behavior = {k.split(".", 1)[1]: v for k, v in times.items() if k.startswith("behavior.")}
    stages = {k: times.get(k, 0.0) for k in STAGES}
    stages["behavior"] = sum(behavior.values())
    unknown = set(times) - set(STAGES) - {f"behavior.{k}" for k in behavior}
    assert not unknown, unknown
    return stages, behavior


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text}")
    return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=("pythia-160m", "tiny"), default="pythia-160m")
    p.add_argument(
        "--skills",
        nargs="+",
        default=None,
        help=f"skills or suites (default: {' '.join(DEFAULT_SKILLS)}; with --cli: the CLI's, "
        "core-en for this tokenizer)",
    )
    p.add_argument(
        "--examples",
        type=_positive,
        default=None,
        help="examples per skill (default 100; with --cli: the CLI's, 300)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--threads",
        type=_positive,
        default=None,
        help="torch threads (SweepConfig.threads; default 1; with --cli: also time the CLI at N, "
        "beside its default choice)",
    )
    p.add_argument("--batch-size", type=int, default=64, help="sequences per forward pass")
    p.add_argument(
        "--checkpoints",
        type=_positive,
        default=1,
        help="local checkpoints of the shape (distinct seeds) in the swept series (default 1)",
    )
    p.add_argument(
        "--dtype", default="float32", help="forward dtype (SweepConfig.dtype; float32 default)"
    )
    p.add_argument(
        "--overlap",
        choices=("on", "off"),
        default=None,
        help="SweepConfig.overlap: probes on the scoring worker or in turn (default: its default)",
    )
    p.add_argument(
        "--cli",
        action="store_true",
        help="time `curriculens sweep` as users run it (a child process at its defaults) "
        "against the plain forward at the same threads",
    )
    p.add_argument("--json", action="store_true", help="end with one JSON line of results")
    args = p.parse_args(argv)
    if args.cli:
        if args.device != "cpu" or args.dtype != "float32" or args.overlap is not None:
            p.error("--cli times the CLI's defaults; --device, --dtype and --overlap are not used")
        r = run_cli(args)
        _print_cli(r)
        if args.json:
            print(json.dumps(r))
        return 0
    r = run(args)
    print(
        f"{r['shape']} on {r['device']} ({r['dtype']}, {r['threads']} thread(s), overlap "
        f"{'on' if r['overlap'] else 'off'}): {r['checkpoints']} checkpoint(s) x "
        f"{len(r['skills'])} skills x {r['examples']} examples, {r['sequences']} sequences, "
        f"{r['tokens']} tokens per checkpoint"
    )
    print(
        f"sweep {r['sweep_s']:.2f} s ({r['sweep_s_per_checkpoint']:.2f} s per checkpoint, "
        f"{r['checkpoints_per_hour']:.0f} checkpoints/hour)  raw HF forward "
        f"{r['raw_forward_s']:.2f} s per checkpoint (+{r['raw_load_s']:.2f} s load)  "
        f"ratio x{r['ratio']:.2f}  peak RSS {r['peak_rss_mb']:.0f} MB (weights "
        f"{r['weights_mb']:.0f} MB; at each load {r['rss_at_loads_mb']})"
    )
    for k, v in r["stages"].items():
        print(f"  {k:<13} {v:8.3f} s  {100 * v / r['sweep_s']:5.1f}%")
    for k, v in r["worker_stages"].items():
        print(f"  worker {k:<6} {v:8.3f} s  (overlapped)")
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
