"""Every user-facing parameter declared once: its type, its range or choices, its flag and help.

The command line, the TOML file of a sweep and the Python API check a value through
:func:`check`, against one :class:`Param` row of :data:`PARAMS` (as scikit-learn declares an
estimator's ``_parameter_constraints`` once and validates them in one place). Only the message
differs: from the command line it names the flag (``--examples``), from Python the argument
(``n_examples``), from a file its key. This module imports nothing heavy, so the parsers built
from it stay fast.

>>> check("n_examples", 40)
40
>>> flag("n_examples")
'--examples'
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from curriculens.errors import ConfigError


@dataclass(frozen=True)
class Param:
    """One parameter: what it is, what it may be, and how the command line spells it.

    Args:
        name: The Python argument (and TOML key) name, e.g. ``n_examples``.
        kind: ``int``, ``float``, ``bool`` or ``str``.
        flag: The command-line flag, e.g. ``--examples`` (``None``: not a flag).
        low: Smallest allowed value (ints and floats), or ``None``.
        high: Largest allowed value, or ``None``.
        choices: The allowed values (strings), or ``None``.
        optional: Whether ``None`` is allowed (meaning "not set").
        strict: Whether ``low`` itself is excluded (``> low``).
        why: Why the range is what it is, shown in the error.
        help: One line for ``--help`` and docs/cli.md.
    """

    name: str
    kind: type
    flag: str | None = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False
    strict: bool = False
    why: str = ""
    help: str = ""

    def allowed(self) -> str:
        """The allowed values in words, e.g. ``an integer >= 20``."""
        if self.choices is not None:
            text = "one of " + ", ".join(self.choices)
        elif self.kind is bool:
            text = "true or false"
        else:
            text = {int: "an integer", float: "a number", str: "a string"}[self.kind]
            if self.low is not None and self.high is not None:
                text += f" in {_num(self.low)}..{_num(self.high)}"
            elif self.low is not None:
                text += f" {'>' if self.strict else '>='} {_num(self.low)}"
            elif self.high is not None:
                text += f" <= {_num(self.high)}"
        if self.optional:
            text += " (or none)"
        return text + (f" ({self.why})" if self.why else "")

    def fault(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or ``None`` when it is."""
        if value is None:
            return None if self.optional else "is missing"
        if self.kind is bool:
            return None if isinstance(value, bool) else "is not true or false"
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return "is not an integer"
        if self.kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
            return "is not a number"
        if self.kind is str and not isinstance(value, str):
            return "is not a string"
        if self.choices is not None and value not in self.choices:
            return "is not a known value"
        if self.low is not None and not (value > self.low if self.strict else value >= self.low):
            return "is too small"
        if self.high is not None and not value <= self.high:
            return "is too large"
        return None


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


#: choices declared here, so that building a parser imports none of the modules that use them
DTYPES = ("float32", "bfloat16", "float16")
CRITERIA = ("paper", "paper-relative")
METHODS = ("fixed", "relative", "stable", "sigmoid")
RELATIVE_TO = ("final", "max")
TASK_SETS = ("common", "pairwise")
DUPLICATES = ("first", "last", "mean")
STRATEGIES = ("upweight", "staged")
EXECUTORS = ("local", "ray")
FORMATS = ("csv", "parquet")

_ROWS = (
    # what a sweep measures (SweepConfig)
    Param("n_examples", int, "--examples", low=20,
          why="probes need a train and a test split", help="examples per skill"),
    Param("train_frac", float, None, low=0.1, high=0.9, help="share the probe trains on"),
    Param("probe_C", float, None, low=0.0, strict=True, help="inverse L2 strength of probes"),
    Param("seed", int, "--seed", low=0, help="random seed of everything the command draws"),
    Param("dtype", str, "--dtype", choices=DTYPES,
          help="load the weights in this dtype (default float32; bfloat16 halves the memory)"),
    Param("batch_size", int, None, low=1, help="most sequences per forward pass"),
    Param("threads", int, None, low=0, why="0: the free physical cores",
          help="torch threads during the sweep (0: the free physical cores)"),
    Param("max_batch_tokens", int, "--max-batch-tokens", low=1, optional=True,
          help="cap on padded tokens per forward pass (CPU default: by model size; none on GPU)"),
    Param("memory_budget_mb", float, None, low=0.0, strict=True, optional=True,
          help="activation memory of a forward pass, in MB"),
    Param("cache_dir", str, "--cache-dir", optional=True,
          help="activation cache folder (re-fit probes without forwards)"),
    Param("mdl", bool, "--mdl", help="also measure each probe's online description length"),
    Param("task_vectors", bool, "--task-vectors", help="compute each few-shot skill's task vector"),
    Param("task_vector_heads", int, "--task-vector-heads", low=0,
          help="heads of the head variant of the task vectors (0: off)"),
    Param("overlap", bool, None, help="fit probes on a worker thread while the next loads"),
    Param("device", str, "--device", help="torch device (cpu, cuda, cuda:1)"),
    # which checkpoints (a series)
    Param("steps", int, "--steps", low=0, why="checkpoint steps count from 0",
          help="checkpoint steps to sweep"),
    Param("every", int, "--every", low=1, optional=True,
          help="only checkpoints whose step is a multiple of N"),
    Param("max_checkpoints", int, "--max-checkpoints", low=1, optional=True,
          help="at most N evenly spaced checkpoints (the first and last kept)"),
    Param("tokens_per_step", int, "--tokens-per-step", low=1, optional=True,
          help="tokens per optimizer step"),
    Param("model", str, "--model", help="Hugging Face repo id whose revisions to sweep"),
    Param("executor", str, "--executor", choices=EXECUTORS, help="where checkpoints run"),
    Param("out", str, "--out", help="output folder or file"),
    # training the toy model (DemoConfig, VerifyConfig)
    Param("train_steps", int, "--train-steps", low=1, help="training steps"),
    Param("train_threads", int, "--threads", low=0,
          why="0: time 1 against all cores, keep the faster", help="torch threads for training"),
    Param("n_checkpoints", int, "--checkpoints", low=1,
          help="log-spaced checkpoints incl. step 0"),
    Param("n_seeds", int, "--seeds", low=1, help="independent training runs"),
    Param("n_evals", int, "--evals", low=3, why="step 0 and a grid of at least 2",
          help="evaluation points"),
    Param("jobs", int, "--jobs", low=1, help="parallel processes"),
    Param("loss_batches", int, None, low=1, help="held-out batches of the loss"),
    # analyses
    Param("n_boot", int, "--bootstrap", low=0, high=100_000,
          why="0: no resampling; past 10^5 the resamples outgrow memory, not the interval's "
          "precision", help="bootstrap resamples"),
    Param("criterion", str, "--criterion", choices=CRITERIA, help="emergence criterion preset"),
    Param("strategy", str, "--strategy", choices=STRATEGIES, help="how the mix is proposed"),
    Param("tasks", str, "--tasks", choices=TASK_SETS,
          help="rank pairs over tasks all models share (common) or each pair shares (pairwise)"),
    Param("duplicates", str, "--duplicates", choices=DUPLICATES,
          help="merge two different scores of one model and task at one token count"),
    Param("revision_tokens", str, "--revision-tokens", help="token count of a revision"),
    Param("skip_bad", bool, "--skip-bad", help="skip checkpoints that cannot be loaded"),
    Param("trust_remote_code", bool, "--trust-remote-code",
          help="let checkpoints whose config names their own Python code (auto_map) run it"),
    Param("layers", str, "--layers", help="block indices and ranges to probe"),
    Param("hooks", str, "--hooks", help="TransformerLens hook names to probe"),
    Param("config", str, "--config", optional=True, help="a configuration key of the run"),
    Param("all", bool, "--all", help="every row of the run"),
    Param("leadlag_criterion", str, "--leadlag-criterion", choices=CRITERIA,
          help="criterion of lead/lag"),
    Param("leadlag", bool, "--leadlag", help="also lead/lag of probe selectivity vs behavior"),
    Param("margin_log10", float, "--margin", low=0.0, strict=True, optional=True,
          why="log10 tokens", help="equivalence margin of lead/lag in log10 tokens (default: "
          "one checkpoint gap, the median gap between consecutive checkpoints)"),
    Param("min_rise", float, "--min-rise", low=0.0,
          why="on the criterion's scale, after chance normalization",
          help="smallest rise that counts as emergence, for every criterion that reads a rise "
          "(relative, sigmoid; lead/lag's included)"),
    Param("keep_zero_tokens", bool, "--keep-zero-tokens", help="keep checkpoints with 0 tokens"),
    Param("columns", str, "--columns", help="CSV: map columns, CSV=NAME"),
    Param("format", str, "--format", choices=FORMATS, help="file format"),
    Param("source_map", str, "--source-map", help="JSON map of skills to data sources"),
    Param("keep_names", bool, "--keep-names", help="keep task names as given"),
    Param("train_overrides", str, "--train-config", help="train-config overrides KEY=VALUE,..."),
    Param("force", bool, "--force", help="replace an earlier run"),
    Param("skills", str, "--skills", help="skills, suites and skill files, comma-separated"),
    Param("fv_method", str, "--fv-method", choices=("projection", "paper"),
          help="task-vector method of predict (docs/predict.md)"),
    Param("fv_heads", str, "--fv-heads", choices=("all", "topk"),
          help="paper method: last-layer heads summed (all) or the top-k by effect"),
    Param("scoring", str, "--scoring", choices=("raw", "paper"), help="how predictions are scored"),
)  # fmt: skip

#: name -> :class:`Param`, the one table
PARAMS: dict[str, Param] = {p.name: p for p in _ROWS}


def param(name: str) -> Param:
    """The :class:`Param` of ``name``; an unknown name is a bug, so it raises ``KeyError``."""
    return PARAMS[name]


def flag(name: str) -> str:
    """The command-line flag of a parameter: the one mapping from parameter to flag.

    >>> flag("n_boot"), flag("train_steps")
    ('--bootstrap', '--train-steps')
    """
    f = PARAMS[name].flag
    if f is None:
        raise KeyError(f"parameter {name!r} has no command-line flag")
    return f


def check(name: str, value: Any, *, arg: str | None = None, via: str = "python") -> Any:
    """``value`` when parameter ``name`` allows it; else a :class:`ConfigError` that names the
    argument (``via="python"``: ``arg`` or ``name``), the flag (``via="cli"``) or the file key
    (``via="toml"``), the value received and what is allowed.

    >>> check("n_boot", -1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    curriculens.errors.ConfigError: n_boot = -1 is too small; expected an integer in 0..100000 ...
    """
    p = PARAMS[name]
    fault = p.fault(value)
    if fault is None:
        return value
    if via == "cli" and p.flag:
        where = f"{p.flag} {value}"
    elif via == "toml":
        where = f"{arg or name} = {value!r} in the config file"
    else:
        where = f"{arg or name} = {value!r}"
    raise ConfigError(f"{where} {fault}; expected {p.allowed()}.")


def check_all(values: dict, *, via: str = "python", prefix: str = "") -> None:
    """:func:`check` every known key of ``values`` (each item of a list; other keys are left to
    their config).

    >>> check_all({"steps": [0, 512], "dir": "ckpts"})
    """
    for key, value in values.items():
        if key not in PARAMS:
            continue
        for one in value if isinstance(value, list | tuple) else [value]:
            check(key, one, arg=prefix + key, via=via)


def arg_type(name: str):
    """An argparse ``type`` that parses and :func:`check`\\ s parameter ``name``; argparse then
    prints ``argument --examples: ...`` and exits 2, before the command runs."""
    p = PARAMS[name]

    def parse(text: str):
        try:
            value = p.kind(text)
        except ValueError:
            what = {int: "an integer", float: "a number"}.get(p.kind, p.kind.__name__)
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {what}; expected {p.allowed()}"
            ) from None
        fault = p.fault(value)
        if fault is not None:
            raise argparse.ArgumentTypeError(f"{value} {fault}; expected {p.allowed()}")
        return value

    parse.__name__ = p.kind.__name__  # argparse names the type in "invalid int value"
    return parse


def add(
    parser,
    name: str,
    *extra_flags: str,
    help: str | None = None,
    **kwargs,
) -> argparse.Action:
    """Add parameter ``name`` to ``parser`` with its flag, type (or choices) and help from the
    table; ``extra_flags`` (a short form such as ``-o``) and argparse keywords may be added.

    ``dest`` is the parameter's name unless given.
    """
    p = PARAMS[name]
    kwargs.setdefault("dest", name)
    if p.choices is not None:
        kwargs.setdefault("choices", p.choices)
    elif p.kind is not bool and p.kind is not str and "action" not in kwargs:
        kwargs.setdefault("type", arg_type(name))
        kwargs.setdefault("metavar", "N" if p.kind is int else "X")
    elif p.kind is str and "action" not in kwargs:
        kwargs.setdefault("metavar", flag(name)[2:].upper().replace("-", "_"))
    text = help if help is not None else p.help
    return parser.add_argument(*extra_flags, flag(name), help=text, **kwargs)


def csv_of(name: str):
    """An argparse ``type`` for a comma-separated list of parameter ``name``'s values."""
    one = arg_type(name)

    def parse(text: str) -> list:
        parts = [t.strip() for t in text.split(",") if t.strip()]
        try:
            return [one(t) for t in parts]
        except argparse.ArgumentTypeError as e:
            raise argparse.ArgumentTypeError(f"in {text!r}: {e}") from None

    return parse


def names() -> Sequence[str]:
    """Every declared parameter name."""
    return tuple(PARAMS)
