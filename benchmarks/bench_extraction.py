"""Benchmark activation extraction: TransformerBridge capture vs a raw Hugging Face forward.

For a Pythia-160m-shaped random GPT-NeoX (12 layers, d_model 768, vocab 50304; no download) and
the tiny toy model it times

* ``bridge``: ``bridge.run_with_hooks`` with hooks that gather one read position per sequence on
  the embedding and every block's ``hook_resid_post`` (what a sweep does), and
* ``hf``: ``model(ids, output_hidden_states=True)`` followed by the same gather,

and reports tokens/s, the overhead ratio (bridge time / HF time; goal <= 1.2) and the peak extra
memory of one forward pass with position gathering vs keeping every hook's full
``[batch, pos, d_model]`` tensor. It also checks that the gathered activations equal HF's hidden
states (``hidden_states[l + 1]`` for block l, except the last block, whose residual output is the
input of ``final_layer_norm``; ``hidden_states[-1]`` is after it).

    python benchmarks/bench_extraction.py [--json] [--batch 8] [--seq 128] [--reps 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import threading
import time
from functools import partial

import psutil
import torch


def _pythia160m_config(vocab: int = 50304):
    from curriculens.toy.model import neox_config

    return neox_config(
        vocab,
        d_model=768,
        n_layers=12,
        n_heads=12,
        d_mlp=3072,
        max_positions=2048,
        rotary_pct=0.25,
        bos_token_id=0,
        eos_token_id=0,
        tie_word_embeddings=False,
    )


def _tiny_config(vocab: int):
    from curriculens.toy.model import neox_config

    return neox_config(vocab, rotary_pct=0.25, tie_word_embeddings=False)


class _PeakRSS:
    """Peak resident memory above the level at entry, sampled by a thread (CPU) or read from
    the CUDA allocator."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")
        self.proc = psutil.Process()
        self.peak_mb = 0.0

    def __enter__(self):
        gc.collect()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return self
        self.base = self.proc.memory_info().rss
        self.top = self.base
        self.stop = False

        def sample():
            while not self.stop:
                self.top = max(self.top, self.proc.memory_info().rss)
                time.sleep(0.0005)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.synchronize()
            self.peak_mb = (torch.cuda.max_memory_allocated() - self.base) / 2**20
            return
        self.top = max(self.top, self.proc.memory_info().rss)
        self.stop = True
        self.thread.join()
        self.peak_mb = (self.top - self.base) / 2**20


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.no_grad()
def bench_model(name: str, hf_config, *, batch: int, seq: int, reps: int, device: str) -> dict:
    from curriculens.activations import load_bridge, resid_hooks
    from curriculens.toy.corpus import build_toy_tokenizer
    from curriculens.toy.model import build_neox

    model = build_neox(hf_config, seed=0).eval()
    n_layers = hf_config.num_hidden_layers
    hooks = resid_hooks(n_layers)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, hf_config.vocab_size, (batch, seq), generator=g).to(device)
    pos = torch.randint(seq // 2, seq, (batch,), generator=g).to(device)
    rows = torch.arange(batch, device=device)

    def hf_forward():
        out = model(ids, output_hidden_states=True)
        hs = out.hidden_states
        acts = {h: hs[i][rows, pos].float().cpu() for i, h in enumerate(hooks[:-1])}
        return out.logits, acts

    # the reference for the last block: the input of the final layer norm
    final_in = {}
    handle = model.gpt_neox.final_layer_norm.register_forward_pre_hook(
        lambda mod, args: final_in.__setitem__("x", args[0][rows, pos].float().cpu())
    )
    logits_hf, ref = hf_forward()
    handle.remove()
    ref[hooks[-1]] = final_in["x"]
    model = model.to(device)
    timings_hf = []
    for r in range(reps + 1):
        _sync(device)
        t0 = time.perf_counter()
        hf_forward()
        _sync(device)
        if r:  # the first pass warms up
            timings_hf.append(time.perf_counter() - t0)

    bridge = load_bridge(model, build_toy_tokenizer(), device=device)
    got: dict[str, torch.Tensor] = {}

    def gather(act, hook, name):
        got[name] = act[rows, pos].float().cpu()

    def keep_full(act, hook, name):
        got[name] = act.detach().clone()

    gathered = [(h, partial(gather, name=h)) for h in hooks]
    full = [(h, partial(keep_full, name=h)) for h in hooks]
    timings_bridge = []
    for r in range(reps + 1):
        _sync(device)
        t0 = time.perf_counter()
        logits_b = bridge.run_with_hooks(ids, fwd_hooks=gathered, return_type="logits")
        _sync(device)
        if r:
            timings_bridge.append(time.perf_counter() - t0)
    max_diff = max(float((got[h] - ref[h]).abs().max()) for h in hooks)
    logit_diff = float((logits_b.float().cpu() - logits_hf.float().cpu()).abs().max())
    got.clear()
    del logits_b
    with _PeakRSS(device) as m_gathered:
        bridge.run_with_hooks(ids, fwd_hooks=gathered, return_type="logits")
    got.clear()
    with _PeakRSS(device) as m_full:
        bridge.run_with_hooks(ids, fwd_hooks=full, return_type="logits")
    got.clear()
    tokens = batch * seq
    t_hf = min(timings_hf)
    t_bridge = min(timings_bridge)
    return {
        "model": name,
        "n_params": sum(p.numel() for p in model.parameters()),
        "batch": batch,
        "seq": seq,
        "reps": reps,
        "hooks": len(hooks),
        "tokens_per_s_bridge": round(tokens / t_bridge, 1),
        "tokens_per_s_hf": round(tokens / t_hf, 1),
        "overhead_ratio": round(t_bridge / t_hf, 3),
        "peak_mb_gathered": round(m_gathered.peak_mb, 1),
        "peak_mb_full": round(m_full.peak_mb, 1),
        "full_activations_mb": round(len(hooks) * tokens * hf_config.hidden_size * 4 / 2**20, 1),
        "max_abs_diff_vs_hf": max_diff,
        "max_abs_logit_diff": logit_diff,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="end with one JSON line of results")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--skip-large", action="store_true", help="only the tiny model")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from curriculens.toy.corpus import build_toy_tokenizer

    kw = dict(batch=args.batch, seq=args.seq, reps=args.reps, device=args.device)
    tiny = bench_model("tiny-gptneox-2x32", _tiny_config(len(build_toy_tokenizer())), **kw)
    results = [tiny]
    if not args.skip_large:
        results.insert(0, bench_model("pythia-160m-shaped (random)", _pythia160m_config(), **kw))
    for r in results:
        print(
            f"{r['model']:<30} bridge {r['tokens_per_s_bridge']:>9.0f} tok/s  hf "
            f"{r['tokens_per_s_hf']:>9.0f} tok/s  overhead x{r['overhead_ratio']:.2f}  peak "
            f"{r['peak_mb_gathered']:.0f} MB gathered vs {r['peak_mb_full']:.0f} MB full  "
            f"max|diff| {r['max_abs_diff_vs_hf']:.1e}"
        )
    if args.json:
        out = dict(results[0])
        out["torch_threads"] = torch.get_num_threads()
        out["device"] = args.device
        out["torch"] = torch.__version__
        out["machine"] = platform.machine()
        if len(results) > 1:
            out["tiny"] = results[1]
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
