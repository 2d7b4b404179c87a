"""Activations: run a checkpoint through TransformerLens's ``TransformerBridge`` and keep only what
the next stages need, the residual stream at each example's read position and the per-token
log-probabilities of its continuations.

Hooks are addressed by TransformerLens names (``hook_embed``, ``blocks.{l}.hook_resid_post``) and
gather the read positions inside the hook, so ``[batch, pos, d_model]`` is never kept per layer.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import ctypes.util
import functools
import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float

from curriculens.errors import HookNameError, SkillError, StoreError, did_you_mean
from curriculens.skills.registry import Example, Skill, read_position, read_source
from curriculens.store_schema import hook_layer as hook_layer  # re-exported; torch-free there

# Dimension glossary: example = skill example; seq = one scored sequence (an example has one per
# candidate continuation); pos = token position; d = d_model.


def resid_hooks(n_layers: int) -> list[str]:
    """The default hooks: the embedding and every block's residual output.

    >>> resid_hooks(2)
    ['hook_embed', 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_post']
    """
    return ["hook_embed"] + [f"blocks.{layer}.hook_resid_post" for layer in range(n_layers)]


def load_bridge(model, tokenizer, *, device: str = "cpu"):
    """Wrap a loaded Hugging Face causal LM in a TransformerLens 4.x ``TransformerBridge``."""
    from transformer_lens.model_bridge import TransformerBridge

    name = getattr(model.config, "_name_or_path", "") or model.config.model_type
    return TransformerBridge.boot_transformers(
        name, hf_model=model, tokenizer=_bridge_tokenizer(tokenizer, name), device=device
    )


def _bridge_tokenizer(tokenizer, name: str):
    """A shallow copy the bridge may adjust, marked as already adding BOS.

    Without the mark, TransformerLens reloads the tokenizer by ``name_or_path`` (a download for a
    hub model, a KeyError for a tokenizer built in memory). curriculens prepends BOS itself, so the
    bridge's own tokenization is never used.
    """
    tok = copy.copy(tokenizer)
    tok.init_kwargs = {**tokenizer.init_kwargs, "add_bos_token": True}
    tok.init_kwargs.setdefault("name_or_path", getattr(tokenizer, "name_or_path", "") or name)
    return tok


def check_hooks(bridge, hooks: Sequence[str]) -> None:
    """Raise :class:`HookNameError` naming the valid hooks when one is unknown."""
    valid = bridge.hook_dict
    for h in hooks:
        if h not in valid:
            resid = sorted(k for k in valid if "resid" in k or k == "hook_embed")
            raise HookNameError(
                f"Unknown hook name '{h}'.{did_you_mean(h, valid)} Residual-stream hooks of this "
                f"model: {', '.join(resid)} ({len(valid)} hooks in all, see bridge.hook_dict)."
            )


@dataclass(frozen=True, kw_only=True)
class EncodedSkill:
    """A skill's examples tokenized for one tokenizer.

    Attributes:
        seqs: Token ids of every scored sequence (BOS + prompt + continuation).
        owner: Example index of each sequence ``[seq]``.
        candidate: 0 for the target continuation, 1.. for wrong choices ``[seq]``.
        cont_start: Index of the first scored token in each sequence ``[seq]``.
        read_pos: Read position in each sequence ``[seq]`` (same for all of an example's).
        read_token: Token id at the read position ``[example]``.
        labels: Probe labels ``[example]``.
    """

    skill: Skill
    examples: list[Example]
    seqs: list[list[int]]
    owner: np.ndarray
    candidate: np.ndarray
    cont_start: np.ndarray
    read_pos: np.ndarray
    read_token: np.ndarray
    labels: np.ndarray


def _continuation_ids(tokenizer, prompt_ids: list[int], full: list[int], cont: str) -> list[int]:
    """The continuation's tokens: the tail of ``full`` (prompt and continuation tokenized
    together) when it starts with the prompt's own tokens, else the continuation alone."""
    if full[: len(prompt_ids)] == prompt_ids and len(full) > len(prompt_ids):
        return list(full[len(prompt_ids) :])
    return list(tokenizer(" " + cont, add_special_tokens=False)["input_ids"])


def _tokenize(tokenizer, texts: list[str], **kw) -> dict:
    """``tokenizer(texts)`` without special tokens, in one batch call (a fast tokenizer encodes
    the list in Rust; one call per text cost the toy sweep 0.7 s per checkpoint)."""
    return tokenizer(texts, add_special_tokens=False, **kw) if texts else {"input_ids": []}


def encode_skill(skill: Skill, examples: Sequence[Example], tokenizer) -> EncodedSkill:
    """Tokenize every example's candidate sequences and resolve read positions."""
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    head = [] if bos is None else [bos]
    readers = [read_source(ex) for ex in examples]  # a minimal pair reads its good sentence
    read = _tokenize(tokenizer, [r.prompt for r in readers], return_offsets_mapping=True)
    conts = [(i, cont) for i, ex in enumerate(examples) for cont in (ex.target, *ex.choices)]
    full = _tokenize(
        tokenizer,
        [f"{examples[i].prompt} {cont}" if examples[i].prompt else cont for i, cont in conts],
    )["input_ids"]
    seqs, owner, cand, start, rpos, rtok = [], [], [], [], [], []
    k = 0  # index into conts / full
    for i, ex in enumerate(examples):
        ids, pos = read_position(readers[i], list(read["input_ids"][i]), read["offset_mapping"][i])
        prompt_ids = ids if ex.prompt else []
        for c, cont in enumerate((ex.target, *ex.choices)):
            cont_ids = _continuation_ids(tokenizer, prompt_ids, list(full[k]), cont)
            k += 1
            if not cont_ids:
                raise SkillError(
                    f"Skill '{skill.name}' example {i}: continuation {cont!r} tokenizes to nothing."
                )
            seqs.append(head + prompt_ids + cont_ids)
            owner.append(i)
            cand.append(c)
            start.append(len(head) + len(prompt_ids))
            rpos.append(len(head) + pos)
        first = seqs[-1 - len(ex.choices)]
        rtok.append(first[len(head) + pos])
    return EncodedSkill(
        skill=skill,
        examples=list(examples),
        seqs=seqs,
        owner=np.array(owner),
        candidate=np.array(cand),
        cont_start=np.array(start),
        read_pos=np.array(rpos),
        read_token=np.array(rtok),
        labels=np.array([e.label for e in examples]),
    )


#: Encodings kept by :func:`encode_items` (a sweep's skills, each with its task-vector controls).
ENCODED_CACHE = 128
_ENCODED: OrderedDict = OrderedDict()
_TOKENIZER_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tokenizer_key(tokenizer) -> str | None:
    """A digest of what a fast tokenizer does (its serialized pipeline, class, size and BOS/EOS),
    so that two loads of one tokenizer share encodings; None for a slow tokenizer (never
    cached). Remembered per tokenizer object while its size is unchanged (``add_tokens``
    changes it)."""
    size = len(tokenizer)
    with contextlib.suppress(KeyError, TypeError):
        known_size, key = _TOKENIZER_KEYS[tokenizer]
        if known_size == size:
            return key
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    head = f"{type(tokenizer).__name__}|{size}|{tokenizer.bos_token_id}|{tokenizer.eos_token_id}|"
    key = hashlib.sha256(head.encode() + backend.to_str().encode()).hexdigest()
    with contextlib.suppress(TypeError):  # not weakly referenceable: digested again next time
        _TOKENIZER_KEYS[tokenizer] = (size, key)
    return key


def encode_items(
    skill: Skill, items, tokenizer, examples: Callable[[], list] | None = None, tag: str = ""
) -> EncodedSkill:
    """:func:`encode_skill` of ``items.examples`` (or of ``examples()``), remembered for the
    same skill, item set and tokenizer: a sweep's checkpoints and a Tracker's measurements
    encode the same texts (0.3 s of the toy model's 3-s measurement). ``tag`` names a derived
    example list: ``examples()`` must then depend on ``items`` and ``tag`` alone, as the
    task-vector controls do. Callers must not modify the result."""
    key = (tokenizer_key(tokenizer), id(items), tag)
    hit = _ENCODED.get(key) if key[0] is not None else None
    if hit is not None and hit[0] is items and hit[1] is skill:
        _ENCODED.move_to_end(key)
        return hit[2]
    enc = encode_skill(skill, list(items.examples if examples is None else examples()), tokenizer)
    if key[0] is not None:
        _ENCODED[key] = (items, skill, enc)  # items held: its id cannot be reused meanwhile
        while len(_ENCODED) > ENCODED_CACHE:
            _ENCODED.popitem(last=False)
    return enc


@dataclass(frozen=True, kw_only=True)
class Capture:
    """What one skill's forward passes leave behind.

    Attributes:
        acts: hook -> residual stream at the read position of each example, ``[example, d]``.
        token_logprob: Per sequence, log-probabilities of its scored tokens.
        token_correct: Per sequence, whether each scored token was the argmax (teacher forced).
    """

    acts: dict[str, Float[np.ndarray, "example d"]]
    token_logprob: list[np.ndarray]
    token_correct: list[np.ndarray]


@torch.no_grad()
def capture(
    bridge,
    encoded: EncodedSkill,
    hooks: Sequence[str],
    *,
    batch_size: int = 64,
    max_batch_tokens: int | None = None,
) -> Capture:
    """Run every sequence of a skill through the bridge, gathering activations in the hooks.

    Sequences are right-padded (causal attention makes padding invisible to earlier positions)
    and batched by length, at most ``batch_size`` sequences and ``max_batch_tokens`` padded
    tokens per forward pass (a longer single sequence still runs alone). Activations are kept
    only for each example's target sequence (candidate 0).

    Logits are computed only at the positions a batch scores (the model's own
    ``logits_to_keep``, when its forward takes it): the unembedding, about a third of a
    Pythia-160m forward over a 50k vocabulary, is skipped everywhere else, and the
    log-softmax is taken over those rows alone.
    """
    check_hooks(bridge, hooks)
    device = bridge.cfg.device or "cpu"
    gather_logits = _takes_logits_to_keep(bridge)
    # no key/value cache: a single forward never reads it, and building it held about 0.2-0.6 GB
    # more per Pythia-160m-shaped batch (issue 28)
    no_cache = {"use_cache": False} if forward_takes(bridge, "use_cache") else {}
    pad = 0
    width = int(bridge.cfg.d_model) * max(1, int(bridge.cfg.n_layers))  # per token, all blocks
    n_ex = len(encoded.examples)
    acts: dict[str, torch.Tensor] = {}
    lp_out: list[np.ndarray] = [None] * len(encoded.seqs)  # type: ignore[list-item]
    ok_out: list[np.ndarray] = [None] * len(encoded.seqs)  # type: ignore[list-item]
    for idx in _batches([len(s) for s in encoded.seqs], batch_size, max_batch_tokens):
        L = max(len(encoded.seqs[i]) for i in idx)
        ids = torch.full((len(idx), L), pad, dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, : len(encoded.seqs[i])] = torch.tensor(encoded.seqs[i])
        keep = encoded.candidate[idx] == 0
        rows = torch.from_numpy(np.flatnonzero(keep))
        pos = torch.from_numpy(encoded.read_pos[idx][keep])
        owners = encoded.owner[idx][keep]

        n_rows = len(idx)

        def gather(act, hook, name, rows=rows, pos=pos, owners=owners, n=n_rows, length=L):
            # keyed by the requested name: aliases such as hook_embed fire as embed.hook_out
            if act.ndim != 3 or tuple(act.shape[:2]) != (n, length):
                raise HookNameError(
                    f"Hook '{name}' gives activations of shape {tuple(act.shape)}, not "
                    "[batch, pos, d_model]; probes read the residual stream. Use hook_embed "
                    "or blocks.{l}.hook_resid_pre / hook_resid_mid / hook_resid_post (or "
                    "another [batch, pos, d_model] hook such as blocks.{l}.hook_attn_out)."
                )
            got = act[rows.to(act.device), pos.to(act.device)].float().cpu()
            if name not in acts:
                acts[name] = torch.zeros(n_ex, got.shape[-1])
            acts[name][torch.from_numpy(owners)] = got

        fwd = [(h, partial(gather, name=h)) for h in hooks]
        col = torch.arange(L)  # logits column of each position
        kw = dict(no_cache)
        if gather_logits:  # only the positions some row scores: s-1 .. n-2
            scored = torch.zeros(L, dtype=torch.bool)
            for i in idx:
                scored[int(encoded.cont_start[i]) - 1 : len(encoded.seqs[i]) - 1] = True
            keep = torch.from_numpy(np.flatnonzero(scored.numpy()))
            col[keep] = torch.arange(len(keep))
            kw["logits_to_keep"] = keep.to(device)
        logits = bridge.run_with_hooks(ids.to(device), fwd_hooks=fwd, return_type="logits", **kw)
        at = keep if gather_logits else torch.arange(L)  # the position of each logits column
        lp_all, ok_all = _score_columns(logits, ids[:, (at + 1).clamp(max=L - 1)])
        for r, i in enumerate(idx):
            s, n = int(encoded.cont_start[i]), len(encoded.seqs[i])
            c = col[s - 1 : n - 1].numpy()
            lp_out[i], ok_out[i] = lp_all[r, c], ok_all[r, c]
        del logits
        trim_after(len(idx) * L * width)  # the batch's freed tensors, back to the system
    return Capture(
        acts={h: a.numpy() for h, a in acts.items()}, token_logprob=lp_out, token_correct=ok_out
    )


#: Most logits floats :func:`_score_columns` takes the log-softmax of at once (16 MB).
SCORE_FLOATS = 2**22


def _score_columns(logits: torch.Tensor, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per row and logits column: the log-probability of ``target`` (``[row, column]``, the
    token each column predicts) and whether it is the argmax; as ``[row, column]`` arrays.

    One log-softmax over a block of rows instead of one per sequence: the same numbers (the
    reduction runs along the vocabulary for each position alike), without 6 small torch calls
    per sequence (1.2 s of the toy model's 2.5 s of captures per checkpoint). Blocks hold at
    most :data:`SCORE_FLOATS`, so a 50k vocabulary does not double the logits' memory.
    """
    rows, cols, vocab = logits.shape
    step = max(1, SCORE_FLOATS // max(1, cols * vocab))
    target = target.to(logits.device)
    lp, ok = [], []
    for a in range(0, rows, step):
        lg = logits[a : a + step].float()
        t = target[a : a + step, :, None]
        lp.append(torch.log_softmax(lg, dim=-1).gather(-1, t)[..., 0].cpu().numpy())
        ok.append((lg.argmax(-1) == t[..., 0]).cpu().numpy())
    return np.concatenate(lp), np.concatenate(ok)


def _takes_logits_to_keep(bridge) -> bool:
    """Whether the wrapped Hugging Face model computes logits only at given positions."""
    return forward_takes(bridge, "logits_to_keep")


def forward_takes(bridge, argument: str) -> bool:
    """Whether the wrapped Hugging Face model's forward takes ``argument`` (``logits_to_keep``:
    logits only at given positions; ``use_cache``: the key/value cache can be turned off)."""
    import inspect

    model = getattr(bridge, "original_model", None)
    try:
        return model is not None and argument in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def _batches(
    lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None
) -> list[np.ndarray]:
    """Index batches of similar length under both caps (padded tokens = rows x longest).

    >>> [b.tolist() for b in _batches([3, 1, 2, 5], batch_size=3, max_batch_tokens=6)]
    [[1, 2], [0], [3]]
    """
    order = np.argsort(lengths, kind="stable")  # similar lengths together
    out, cur = [], []
    for i in order:
        longest = max(lengths[i], *(lengths[j] for j in cur)) if cur else lengths[i]
        full = len(cur) >= batch_size or (
            max_batch_tokens is not None and cur and (len(cur) + 1) * longest > max_batch_tokens
        )
        if full:
            out.append(np.array(cur))
            cur = []
        cur.append(i)
    if cur:
        out.append(np.array(cur))
    return out


def save_capture(cap: Capture, path: str | Path) -> Path:
    """Write a capture to one safetensors file (activations per hook, ragged scores flattened).

    The file's metadata holds a SHA-256 of its tensors, so :func:`load_capture` refuses a file
    that was changed afterwards.

    >>> cap = Capture(acts={"hook_embed": np.ones((2, 3), np.float32)},
    ...     token_logprob=[np.array([-1.0]), np.array([-2.0, -3.0])],
    ...     token_correct=[np.array([True]), np.array([False, True])])
    >>> import tempfile, os
    >>> p = save_capture(cap, os.path.join(tempfile.mkdtemp(), "c.safetensors"))
    >>> load_capture(p).token_logprob[1].tolist()
    [-2.0, -3.0]
    """
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lens = np.array([len(x) for x in cap.token_logprob], np.int64)
    tensors = {f"acts/{h}": np.ascontiguousarray(a, np.float32) for h, a in cap.acts.items()}
    tensors["lens"] = lens
    tensors["token_logprob"] = np.concatenate(cap.token_logprob).astype(np.float32)
    tensors["token_correct"] = np.concatenate(cap.token_correct).astype(np.uint8)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"sha256": _digest(tensors)})
    tmp.replace(path)  # atomic: a killed sweep never leaves half a cache file
    return path


def load_capture(
    path: str | Path, *, expect: tuple[EncodedSkill, Sequence[str]] | None = None
) -> Capture:
    """Read a capture written by :func:`save_capture`.

    Args:
        path: The cache file.
        expect: ``(encoded, hooks)`` the capture must fit: one activation row per example
            for every hook, one score per scored token of every sequence.

    Raises:
        StoreError: The file is unreadable, incomplete, altered since it was written, or does
            not fit ``expect``; the message names it and says to delete it.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            t = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is no dict
    except (SafetensorError, OSError, ValueError) as e:
        raise _bad_cache(path, f"unreadable: {e}") from None
    need = {"lens", "token_logprob", "token_correct"}
    if not need <= set(t):
        raise _bad_cache(path, f"incomplete: lacks {sorted(need - set(t))}")
    if "sha256" in meta and meta["sha256"] != _digest(t):
        raise _bad_cache(path, "its contents changed after it was written (checksum mismatch)")
    lens = t["lens"].astype(np.int64)
    if (
        lens.ndim != 1
        or (lens < 0).any()
        or int(lens.sum()) != len(t["token_logprob"])
        or len(t["token_correct"]) != len(t["token_logprob"])
    ):
        raise _bad_cache(path, "inconsistent: its token counts do not add up")
    acts = {k[len("acts/") :]: v for k, v in t.items() if k.startswith("acts/")}
    if expect is not None:
        enc, hooks = expect
        n_scored = [len(q) - int(c) for q, c in zip(enc.seqs, enc.cont_start, strict=True)]
        if lens.tolist() != n_scored:
            raise _bad_cache(path, "it does not fit the skill's sequences")
        for h in hooks:
            a = acts.get(h)
            if a is None or a.ndim != 2 or a.shape[0] != len(enc.examples):
                raise _bad_cache(path, f"no activations of shape [example, d] for hook {h!r}")
    cuts = np.cumsum(lens)[:-1]
    lp = np.split(t["token_logprob"].astype(np.float32), cuts)
    ok = np.split(t["token_correct"].astype(bool), cuts)
    return Capture(acts=acts, token_logprob=lp, token_correct=ok)


def _digest(tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k])
        h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _bad_cache(path: Path, what: str) -> StoreError:
    return StoreError(
        f"Activation cache file {str(path)!r} is {what}. Delete it (or the cache folder); the "
        "next sweep recomputes it."
    )


def check_context(encoded: EncodedSkill, n_ctx: int | None) -> None:
    """Raise :class:`SkillError` when a sequence is longer than the model's context.

    A model silently scores positions past its context (or wraps them), so such a skill is
    refused, naming its longest prompt.
    """
    if n_ctx is None or not encoded.seqs:
        return
    lengths = [len(q) for q in encoded.seqs]
    i = int(np.argmax(lengths))
    if lengths[i] > n_ctx:
        ex = encoded.examples[int(encoded.owner[i])]
        text = ex.prompt or ex.target
        shown = text if len(text) <= 80 else text[:77] + "..."
        over = sum(n > n_ctx for n in lengths)
        raise SkillError(
            f"Skill '{encoded.skill.name}': {over} sequence(s) are longer than the model's "
            f"context of {n_ctx} tokens; the longest ({lengths[i]} tokens with its "
            f"continuation) is the prompt {shown!r}. Shorten those prompts, or leave the skill "
            "out for this model."
        )


#: A forward (and in a sweep, a skill's forwards) of at least this many floats (tokens x width
#: x blocks) hands its freed memory back to the system afterwards (:func:`trim_heap`): 8M
#: floats, 32 MB per activation set. Pythia-160m batches are 3-10 times that; the toy model's,
#: 0.5M floats, never trim (182 trims cost its 21-skill measurement 0.3 s, 7%, for nothing).
TRIM_FLOATS = 2**23


def trim_after(floats: int) -> bool:
    """:func:`trim_heap` after work that held ``floats`` activation floats, when that is at
    least :data:`TRIM_FLOATS`; returns whether it trimmed."""
    return floats >= TRIM_FLOATS and trim_heap()


def trim_heap() -> bool:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``); returns
    whether it could (False off glibc, where it does nothing).

    A forward pass allocates and frees hundreds of MB of tensors; glibc keeps what it freed in
    its heaps (one per thread that allocated: the sweep's and its scoring worker's), so the
    resident memory of a sweep grew batch by batch and skill by skill with memory it no longer
    used (issue 28: 0.15-0.45 GB per skill on the Pythia-160m shape). :func:`capture` trims
    after each batch (no measurable cost: 59.5 against 60.0 s of CPU over 12 such batches), the
    sweep after each skill, each checkpoint's probe fits and each model freed. Nothing it frees
    is in use, so no value changes.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to trim
        return None
