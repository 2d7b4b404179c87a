"""Function vectors as the Implicit Curriculum paper's code computes them (paper mode).

Followed step by step from ``function_vecs/extract_function_vecs.py`` and
``function_vecs/experiments/analyze_real_tasks.py`` of github.com/KaiserWhoLearns/ElementalTask,
run with the flags of ``scripts/slurm_scripts/fv_extract_7b.sh`` (``--layer -1 --num-heads 10
--num-samples 20 --only-correct``):

1. **One checkpoint.** Vectors are computed once, at the mature checkpoint (the paper's
   ``--checkpoint main``; here the run's last checkpoint unless another is named), and the
   weights derived from them are held fixed over training.
2. **Correct prompts only.** The first :data:`PAPER_PROMPTS` (20) prompts, in item order, that
   the model answers correctly at that checkpoint (exact match for continuations, choice
   accuracy for choice skills, as the sweep scores them); fewer where fewer are correct (the
   rows' ``n`` says how many), none where none are (the skill gets no vector, as the paper's
   strict mode skips it).
3. **The last layer's attention, per head, at the last prompt token.** For head h,
   ``c_h = z_h W_O^h``: the head's slice of the input of the output projection times its columns
   of W_O (the output bias is in no head). ``z`` is read at the prompt's last token (the token
   before the answer).
4. **Mean over prompts, as the code takes it:** the mean of per-batch means over batches of
   :data:`PAPER_BATCH` (4) prompts in order. With 20 prompts the batches are equal and this is
   the plain mean; with, say, 18 the last batch of 2 weighs as much as a batch of 4.
5. **Sum over heads, L2-normalised** (``/ (norm + 1e-10)``). The code's
   ``build_function_vec_from_means`` sums the columns of *every* head of the layer in ``topk``
   mode, although ``extract_informative_heads`` ranks heads first; so the vector is the
   normalised mean of the last layer's attention output (without its bias). ``heads="topk"``
   instead sums the :data:`TOPK_HEADS` heads with the largest average indirect effect, as the
   paper's README describes; the effect is the code's: in each correct prompt, replace the
   head's slice at the last token by the same slice of a control prompt at its last token, and
   take the mean drop in the log-probability of the answer's first token; summed over the
   elemental skills (the code screens its training tasks, composites held out).
6. **No control subtraction** in the vector (controls only score heads in the ``topk``
   variant).

Differences that remain, named: the control prompts are curriculens' shuffled-demonstration
controls (:func:`curriculens.taskvectors.control_examples`, the same format as the prompt), not
the code's ``get_shuffled_prompts`` (two ``x -> y`` lines in a fixed format); the effect's answer
token is the continuation's first token as the sweep tokenizes it (the code tokenizes the bare
answer, without its leading space); prompts carry
curriculens' BOS token and tokenization, as in the sweep.

The rows are :class:`~curriculens.store.VectorRow` s with variant ``paper`` (``paper_topk``),
hook ``blocks.{L}.attn.hook_z`` and layer L, written into the run's store
(:func:`paper_vectors_for_run`) where :func:`curriculens.analysis.fv_paper.predict_paper` reads
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import torch
from einops import einsum

from curriculens.activations import EncodedSkill, capture, check_context, encode_skill
from curriculens.behavior import score_behavior
from curriculens.errors import ConfigError
from curriculens.probes.splits import ItemSet
from curriculens.skills.registry import Skill
from curriculens.store import VectorRow
from curriculens.taskvectors import control_examples

#: correctly answered prompts behind each vector (the paper's ``--num-samples 20``)
PAPER_PROMPTS = 20
#: prompts per batch; the vector is the mean of batch means (``analyze_real_tasks``: 4)
PAPER_BATCH = 4
#: heads of the top-k variant (the paper's ``--num-heads 10``)
TOPK_HEADS = 10
#: the variants written, by head selection
VARIANTS = {"all": "paper", "topk": "paper_topk"}


def correct_items(bridge, skill: Skill, items: ItemSet, tokenizer, *, batch_size=64):
    """Whether the model answers each item correctly (the sweep's behavior: exact match, or
    choice accuracy): a bool array over ``items``."""
    enc = encode_skill(skill, list(items.examples), tokenizer)
    cap = capture(bridge, enc, [], batch_size=batch_size)
    got = score_behavior(enc, cap)
    return got["exact_match" if "exact_match" in got else "choice_acc"] > 0.5


def prompt_ids(enc: EncodedSkill) -> list[list[int]]:
    """Each example's prompt tokens (BOS + prompt, no continuation), from its target sequence."""
    target = np.flatnonzero(enc.candidate == 0)
    return [enc.seqs[i][: int(enc.cont_start[i])] for i in target]


def _padded(seqs: Sequence[Sequence[int]]):
    length = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), length), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = torch.tensor(list(s))
    last = torch.tensor([len(s) - 1 for s in seqs])
    return ids, last


def _z_at_last(bridge, seqs: Sequence[Sequence[int]], hook: str) -> torch.Tensor:
    """``z [n, head, d_head]`` of one batch at each prompt's last token (right-padded)."""
    ids, last = _padded(seqs)
    got = {}

    def grab(act, hook):
        rows = torch.arange(act.shape[0], device=act.device)
        got["z"] = act[rows, last.to(act.device)].detach().clone()

    bridge.run_with_hooks(
        ids.to(bridge.cfg.device or "cpu"), fwd_hooks=[(hook, grab)], return_type=None
    )
    return got["z"]


@torch.no_grad()
def head_outputs(bridge, seqs: Sequence[Sequence[int]], layer: int, *, batch_size=PAPER_BATCH):
    """``c[n, head, d_model]``: each head's output ``z_h W_O^h`` at each prompt's last token."""
    w_o = bridge.blocks[layer].attn.W_O.detach().float().cpu()  # [head, d_head, d_model]
    hook = f"blocks.{layer}.attn.hook_z"
    out = [
        einsum(
            _z_at_last(bridge, seqs[i : i + batch_size], hook).float().cpu(),
            w_o,
            "n head dh, head dh d -> n head d",
        )
        for i in range(0, len(seqs), batch_size)
    ]
    return torch.cat(out).numpy().astype(np.float64)


def batch_mean(contribs: np.ndarray, batch_size: int = PAPER_BATCH) -> np.ndarray:
    """The mean of per-batch means over consecutive batches (the paper's average).

    >>> batch_mean(np.array([[1.0], [1.0], [4.0]]), 2).tolist()
    [2.5]
    """
    means = [contribs[i : i + batch_size].mean(0) for i in range(0, len(contribs), batch_size)]
    return np.mean(means, axis=0)


def unit_vector(head_means: np.ndarray, heads: Sequence[int] | None = None):
    """``(vector / (norm + 1e-10), norm)`` of the sum over ``heads`` (None: every head) of
    ``head_means [head, d_model]``."""
    pick = head_means if heads is None else head_means[list(heads)]
    vec = pick.sum(0)
    norm = float(np.linalg.norm(vec))
    return vec / (norm + 1e-10), norm


def _answer_logprob(bridge, seqs, answer, fwd) -> np.ndarray:
    """Log-probability of each prompt's answer token at its last token, under hooks ``fwd``."""
    ids, last = _padded(seqs)
    logits = bridge.run_with_hooks(
        ids.to(bridge.cfg.device or "cpu"), fwd_hooks=fwd, return_type="logits"
    )
    rows = torch.arange(len(ids), device=logits.device)
    lp = torch.log_softmax(logits[rows, last.to(logits.device)].float(), -1)
    return lp[rows, torch.tensor(list(answer), device=lp.device)].cpu().numpy()


def _swap_head(act, hook, *, head: int, last: torch.Tensor, value: torch.Tensor):
    """Replace ``head``'s z at each row's ``last`` token by ``value [n, d_head]``."""
    act = act.clone()
    rows = torch.arange(act.shape[0], device=act.device)
    act[rows, last.to(act.device), head] = value.to(act.device, act.dtype)
    return act


@torch.no_grad()
def head_effects(
    bridge,
    icl: Sequence,
    ctrl: Sequence,
    answer: Sequence[int],
    layer: int,
    *,
    batch_size=PAPER_BATCH,
) -> np.ndarray:
    """The code's per-head effect at ``layer``: the mean drop of the answer's first-token
    log-probability when the head's ``z`` at the last token of each prompt is replaced by the
    control prompt's at its last token. ``[head]``."""
    hook = f"blocks.{layer}.attn.hook_z"
    drop = np.zeros(bridge.cfg.n_heads)
    for i in range(0, len(icl), batch_size):
        seqs, gold = icl[i : i + batch_size], answer[i : i + batch_size]
        z_ctl = _z_at_last(bridge, ctrl[i : i + batch_size], hook)
        last = _padded(seqs)[1]
        base = _answer_logprob(bridge, seqs, gold, [])
        for h in range(len(drop)):
            swap = partial(_swap_head, head=h, last=last, value=z_ctl[:, h])
            drop[h] += float((base - _answer_logprob(bridge, seqs, gold, [(hook, swap)])).sum())
    return drop / max(len(icl), 1)


class PaperVectors:
    """Collects one checkpoint's paper-mode vectors, skill by skill (module docstring).

    Args:
        base: ``run, checkpoint, step, tokens, fingerprint, probe_key`` of the rows.
        layer: The block (negative: from the end; the paper's ``--layer -1``).
        n_prompts: Correct prompts per skill (at most).
        heads: ``all`` (the code) or ``topk`` (the README), or ``both``.
        k: Heads of the top-k variant.
        seed: Seeds the control prompts of the head effects.
        n_ctx: The model's context, to refuse longer prompts.
    """

    def __init__(
        self,
        base: dict,
        *,
        layer: int = -1,
        n_prompts: int = PAPER_PROMPTS,
        heads: str = "all",
        k: int = TOPK_HEADS,
        seed: int = 0,
        n_ctx=None,
    ):
        if heads not in ("all", "topk", "both"):
            raise ConfigError(f"heads={heads!r}; expected all, topk or both.")
        if n_prompts < 1:
            raise ConfigError(f"n_prompts={n_prompts}; expected at least 1.")
        self.base, self.layer, self.n_prompts, self.heads, self.k = (
            dict(base),
            layer,
            n_prompts,
            heads,
            k,
        )
        self.seed, self.n_ctx = seed, n_ctx
        self._means: dict[str, tuple[Skill, int, np.ndarray]] = {}
        self._effects: dict[str, np.ndarray] = {}
        self.notes: dict[str, str] = {}

    def add(self, bridge, tokenizer, skill: Skill, items: ItemSet, correct=None) -> None:
        """Add ``skill``'s per-head means from its first correct items (``correct``: a bool per
        item; None: scored here). A skill with no correct item gets no vector (see ``notes``)."""
        layer = self.layer % bridge.cfg.n_layers
        if correct is None:
            correct = correct_items(bridge, skill, items, tokenizer)
        idx = np.flatnonzero(np.asarray(correct, bool))[: self.n_prompts]
        if len(idx) < self.n_prompts:
            self.notes[skill.name] = f"{len(idx)} correct prompt(s) of {self.n_prompts} wanted"
        if not len(idx):
            return
        enc = encode_skill(skill, [items.examples[i] for i in idx], tokenizer)
        check_context(enc, self.n_ctx)
        seqs = prompt_ids(enc)
        means = batch_mean(head_outputs(bridge, seqs, layer))
        self._means[skill.name] = (skill, len(idx), means)
        if self.heads != "all" and not skill.components and items.queries:
            ctl = encode_skill(skill, control_examples(items, idx, self.seed), tokenizer)
            target = np.flatnonzero(enc.candidate == 0)
            answer = [enc.seqs[i][int(enc.cont_start[i])] for i in target]
            self._effects[skill.name] = head_effects(bridge, seqs, prompt_ids(ctl), answer, layer)

    def top_heads(self) -> list[int]:
        """The top-k heads by effect summed over the elemental skills added."""
        if not self._effects:
            raise ConfigError("The top-k variant needs at least one elemental few-shot skill.")
        total = np.sum(list(self._effects.values()), axis=0)
        return np.argsort(-total, kind="stable")[: self.k].tolist()

    def rows(self, n_layers: int) -> dict[str, list[VectorRow]]:
        """``{skill: rows}``: the all-heads vector and/or the top-k one of every skill added."""
        layer = self.layer % n_layers
        which = {"all": ("all",), "topk": ("topk",), "both": ("all", "topk")}[self.heads]
        top = self.top_heads() if self.heads != "all" else None
        out: dict[str, list[VectorRow]] = {}
        for name, (skill, n, means) in self._means.items():
            for sel in which:
                vec, norm = unit_vector(means, None if sel == "all" else top)
                out.setdefault(name, []).append(
                    VectorRow(
                        **self.base,
                        skill=name,
                        skill_hash=skill.content_hash,
                        hook=f"blocks.{layer}.attn.hook_z",
                        layer=layer,
                        variant=VARIANTS[sel],
                        n=n,
                        norm=norm,
                        data=np.asarray(vec, np.float32),
                    )
                )
        return out


def paper_vector_rows(
    model,
    tokenizer,
    skills: Sequence[tuple[Skill, ItemSet]],
    base: dict,
    *,
    correct: dict | None = None,
    device: str = "cpu",
    **kwargs,
) -> tuple[list[VectorRow], dict[str, str]]:
    """Every few-shot skill's paper-mode rows on one loaded checkpoint, and the notes (skills
    with fewer correct prompts than wanted). ``correct``: ``{skill: bool per item}`` (else
    scored here); ``kwargs`` go to :class:`PaperVectors`."""
    from curriculens.activations import load_bridge

    bridge = load_bridge(model, tokenizer, device=device)
    pv = PaperVectors(base, **kwargs)
    for skill, items in skills:
        if skill.shots and items.queries:
            pv.add(bridge, tokenizer, skill, items, (correct or {}).get(skill.name))
    rows = [r for rs in pv.rows(bridge.cfg.n_layers).values() for r in rs]
    return rows, dict(pv.notes)


def write_paper_vectors(store, run: str, checkpoint: str, rows: Sequence[VectorRow]) -> None:
    """Store ``rows`` in ``store`` (rows of the same checkpoint, skill and variant are
    replaced; other checkpoints' paper-mode rows stay, and predictions pick one checkpoint)."""
    unit = "paper-fv|" + ",".join(sorted({r.variant for r in rows}))
    fp = rows[0].fingerprint if rows else ""
    store.write_unit(run, fp, unit, checkpoint, list(rows))


__all__ = [
    "PAPER_BATCH",
    "PAPER_PROMPTS",
    "TOPK_HEADS",
    "PaperVectors",
    "batch_mean",
    "correct_items",
    "ensure_paper_vectors",
    "head_outputs",
    "paper_vector_rows",
    "paper_vectors_for_run",
    "unit_vector",
    "write_paper_vectors",
]


def paper_vectors_for_run(
    run_dir,
    *,
    run: str | None = None,
    checkpoint: str | None = None,
    heads: str = "all",
    device: str = "cpu",
    n_prompts: int = PAPER_PROMPTS,
) -> list[dict]:
    """Compute and store the paper-mode vectors of a swept run's few-shot skills at one local
    checkpoint (default: the one with the most tokens), on the run's own items.

    Args:
        run_dir: The run directory (or ``.sqlite`` store).
        run: Which run of the store (None: every run, e.g. each seed of a demo).
        checkpoint: The checkpoint label (None: each run's last).
        heads: ``all``, ``topk`` or ``both`` (:class:`PaperVectors`).
        device: Where the model runs.
        n_prompts: Correct prompts per skill (at most).

    Returns:
        Per run ``{"run", "checkpoint", "tokens", "skills": {skill: n prompts}, "notes"}``.
    """
    from curriculens.store import Store

    with Store(run_dir) as store:
        runs = {k[4:]: v for k, v in store.meta().items() if k.startswith("run:")}
        if run is not None and run not in runs:
            raise ConfigError(f"run={run!r}; the store's runs are {', '.join(sorted(runs))}.")
        if not runs:
            raise ConfigError(f"{run_dir!s} holds no swept run (no run:* metadata).")
        return [
            _one_run(store, name, runs[name], checkpoint, heads, device, n_prompts)
            for name in ([run] if run is not None else sorted(runs))
        ]


def _one_run(store, run: str, meta: dict, checkpoint, heads, device, n_prompts) -> dict:
    from curriculens.checkpoints.series import CheckpointSeries
    from curriculens.skills.registry import get_skill

    config = meta["config"]
    series = CheckpointSeries.from_dir(meta["series"])
    cks = {c.label: c for c in series}
    label = checkpoint or max(cks, key=lambda k: (cks[k].tokens, cks[k].step))
    if label not in cks:
        raise ConfigError(f"checkpoint={label!r}; run {run!r} has {', '.join(cks)}.")
    ck = cks[label]
    fps = {r["fingerprint"] for r in store.rows(run=run, checkpoint=label)}
    base = dict(
        run=run,
        checkpoint=label,
        step=ck.step,
        tokens=ck.tokens,
        fingerprint=min(fps) if fps else "",
        probe_key=meta.get("probe_key", ""),
    )
    skills = [get_skill(s) for s in config["skills"]]
    items = [(s, draw_items_for(s, config)) for s in skills if s.shots]
    model, tok = ck.load(device=device, dtype=config.get("dtype", "float32"))
    rows, notes = paper_vector_rows(
        model.eval(),
        tok,
        items,
        base,
        device=device,
        heads=heads,
        n_prompts=n_prompts,
        seed=config["seed"],
    )
    write_paper_vectors(store, run, label, rows)
    return {
        "run": run,
        "checkpoint": label,
        "tokens": ck.tokens,
        "skills": {r.skill: r.n for r in rows},
        "notes": notes,
    }


def draw_items_for(skill: Skill, config: dict) -> ItemSet:
    """The items a sweep with ``config`` (its stored dict) measured ``skill`` on."""
    from curriculens.probes.splits import draw_items

    return draw_items(
        skill, config["n_examples"], seed=config["seed"], train_frac=config["train_frac"]
    )


def ensure_paper_vectors(run_dir, *, heads: str = "all", device: str = "cpu") -> list[dict]:
    """Compute the paper-mode vectors (each run's last checkpoint) of every run of the store
    that has none of the ``heads`` variant yet; returns what :func:`paper_vectors_for_run`
    returned for those runs (empty when every run had them)."""
    from curriculens.store import Store

    if heads not in VARIANTS:
        raise ConfigError(f"heads={heads!r}; expected one of {', '.join(VARIANTS)}.")
    with Store(run_dir, readonly=True) as store:
        runs = sorted(k[4:] for k in store.meta() if k.startswith("run:"))
        have = {v["run"] for v in store.vectors(variant=VARIANTS[heads])}
    want = "both" if heads == "topk" else "all"
    out = []
    for run in runs:
        if run not in have:
            out += paper_vectors_for_run(run_dir, run=run, heads=want, device=device)
    return out
