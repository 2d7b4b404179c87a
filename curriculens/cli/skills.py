"""The ``curriculens skills`` command: list, show and validate skills from the terminal.

The CLI wires it in with ``add_skills_parser(subparsers)``. Each handler returns an exit code and
turns every curriculens error into one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from curriculens.cli._args import add_seed_flag
from curriculens.errors import ConfigError, CurriculensError, SkillFileError

if TYPE_CHECKING:
    from curriculens.skills.registry import Example, Skill

OPEN, CLOSE = "⟦", "⟧"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``skills`` with its ``list``, ``show`` and ``validate`` subcommands.

    Args:
        subparsers: The object returned by ``parser.add_subparsers()`` of the main CLI.

    Returns:
        The ``skills`` parser. Each subcommand sets ``func(args) -> int``.

    >>> parser = argparse.ArgumentParser(prog="curriculens")
    >>> _ = add_skills_parser(parser.add_subparsers())
    >>> args = parser.parse_args(["skills", "show", "en_capital", "-n", "1"])
    >>> args.func.__name__, args.n
    ('cmd_show', 1)
    """
    skills = subparsers.add_parser(
        "skills",
        help="list, show and validate skills",
        description="List the registered skills, show rendered examples, validate skill files.",
    )
    skills.set_defaults(func=lambda args: _usage(skills))
    sub = skills.add_subparsers(dest="skills_command", metavar="{list,show,validate}")

    p = sub.add_parser(
        "list", help="one line per skill: name, suite, family, format, examples, probe"
    )
    p.add_argument("--suite", help="only this suite (toy, core-en, user)")
    p.add_argument(
        "--load",
        action="append",
        default=[],
        metavar="FILE",
        help="also load this skill file (JSONL or BLiMP); repeatable",
    )
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "show",
        help="print rendered examples with the probe's read token marked ⟦like this⟧",
    )
    p.add_argument("name", metavar="NAME", help="a registered skill, or a path to a skill file")
    p.add_argument(
        "--tokenizer",
        metavar="PATH",
        help="a local Hugging Face tokenizer directory (default: the toy word-level tokenizer)",
    )
    p.add_argument("-n", type=int, default=3, help="how many examples (default 3)")
    add_seed_flag(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("validate", help="check skill files; exit 1 if any has a problem")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL or BLiMP skill file(s)")
    p.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="also check that every prompt fits this local checkpoint's context, as a sweep "
        "does (its config.json and tokenizer; no weights load)",
    )
    p.set_defaults(func=cmd_validate)
    return skills


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _fail(message: str) -> int:
    print(f"curriculens skills: error: {message}", file=sys.stderr)
    return 2


def examples_column(skill: Skill) -> str:
    """``"generated"`` for a generator skill, else how many examples its file holds."""
    n = getattr(skill.build, "n_examples", None)
    return "generated" if n is None else str(n)


# ---------------------------------------------------------------- list
def cmd_list(args: argparse.Namespace) -> int:
    """``curriculens skills list``: a table of the registered skills."""
    from curriculens.skills.files import load_skill_files
    from curriculens.skills.registry import list_skills

    try:
        if args.load:
            load_skill_files(args.load)
        skills = list_skills(args.suite)
    except SkillFileError as err:
        return _fail("\n".join(err.problems))
    except CurriculensError as err:
        return _fail(str(err))
    header = ("name", "suite", "family", "format", "version", "examples", "probe", "description")
    rows = [
        (
            s.name,
            s.suite,
            s.family,
            s.format,
            str(s.version),
            examples_column(s),
            "yes" if s.probed else "no",
            s.description,
        )
        for s in skills
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    # On a terminal the description is cut to its width (never the other columns); piped to a
    # file or another program (no terminal, no COLUMNS), it is printed whole.
    columns = shutil.get_terminal_size((0, 0)).columns
    room = max(columns - sum(w + 2 for w in widths[:-1]), 20) if columns else None
    for row in [header, *rows]:
        *cells, text = row
        if room is not None and len(text) > room:
            text = text[: room - 1].rstrip() + "…"
        line = "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=False))
        print(f"{line}  {text}".rstrip())
    return 0


# ---------------------------------------------------------------- show
def _load_tokenizer(path: str | None):
    if path is None:
        from curriculens.toy.corpus import build_toy_tokenizer

        return build_toy_tokenizer()
    if not Path(path).is_dir():
        raise FileNotFoundError(
            f"--tokenizer {path!r} is not a directory; give a local folder saved with "
            "tokenizer.save_pretrained(...) (no downloads)"
        )
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(
            f"--tokenizer {path!r} holds no loadable tokenizer ({err}); save one there with "
            "tokenizer.save_pretrained(...)"
        ) from err


def render_example(tokenizer, example: Example) -> tuple[str, int, int]:
    """The read text with the probe's read token wrapped in ``⟦ ⟧``.

    Returns:
        ``(marked text, read index, number of tokens)``. The read text is the prompt, or the
        good sentence of a minimal pair.

    >>> from curriculens.skills.registry import Example
    >>> from curriculens.toy.corpus import build_toy_tokenizer
    >>> ex = Example(prompt="kalo lives in", target="paris", label=0, read_after="kalo")
    >>> render_example(build_toy_tokenizer(), ex)[0]
    '⟦kalo⟧ lives in'
    """
    from curriculens.skills.registry import resolve_read_position

    ids, pos = resolve_read_position(tokenizer, example)
    text = example.prompt or example.target
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    a, b = enc["offset_mapping"][pos]
    while a < b and text[a].isspace():  # byte-level BPE counts the leading space in the token
        a += 1
    return text[:a] + OPEN + text[a:b] + CLOSE + text[b:], pos, len(ids)


def probe_lines(skill: Skill, width: int = 96) -> list[str]:
    """What the skill's probe decodes, where and why no shortcut passes it; or that it has none.

    >>> from curriculens.skills import get_skill
    >>> probe_lines(get_skill("brackets"))[0]
    '  no probe (behavior only): these strings are too short for a latent that only computation'
    """
    if skill.probed:
        head = "probe: "
        text = skill.probe or "not described (a skill file may say so with 'probe' in its header)"
    else:
        head = "no probe (behavior only)" + (": " if skill.probe else "")
        text = skill.probe
    return textwrap.wrap(
        head + text,
        width=width,
        initial_indent="  ",
        subsequent_indent="    ",
        break_on_hyphens=False,
    ) or ["  " + head.strip()]


def _unknown(tokenizer, text: str) -> int:
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return 0
    return sum(i == unk for i in tokenizer(text, add_special_tokens=False)["input_ids"])


def cmd_show(args: argparse.Namespace) -> int:
    """``curriculens skills show NAME``: what the probe reads, and examples with it marked."""
    from curriculens.skills.files import load_skill_file
    from curriculens.skills.registry import get_skill, list_skills

    try:
        if args.n < 1:
            return _fail(f"-n {args.n}: ask for at least 1 example")
        path = Path(args.name)
        registered = {s.name for s in list_skills()}
        if args.name not in registered and (path.suffix == ".jsonl" or path.is_file()):
            skill = load_skill_file(path, register=False)
        else:
            skill = get_skill(args.name)
        tokenizer = _load_tokenizer(args.tokenizer)
        examples = skill.examples(args.n, seed=args.seed)
        if skill.shots:  # as a sweep renders them: demonstrations from training groups
            from curriculens.probes.splits import draw_items

            examples = list(draw_items(skill, 300, seed=args.seed).examples[: args.n])
        tok_name = args.tokenizer or "toy word-level tokenizer"
        print(
            f"{skill.name} v{skill.version}  suite={skill.suite}  family={skill.family}  "
            f"format={skill.format}  examples={examples_column(skill)}"
        )
        if skill.description:
            print(f"  {skill.description}")
        print("\n".join(probe_lines(skill)))
        labels = ", ".join(f"{i}={n}" for i, n in enumerate(skill.label_names))
        print(f"  labels: {labels}" + ("" if skill.probed else "  (they only stratify the split)"))
        if skill.components:
            print(f"  components: {', '.join(skill.components)}")
        if skill.shots:
            print(
                f"  few-shot: {skill.shots} demonstrations per prompt, template "
                f"{skill.template!r}; drawn after the split from training groups only"
            )
        if skill.probed:
            print(f"  read positions for: {tok_name}")
        for i, ex in enumerate(examples, start=1):
            marked, pos, n_tok = render_example(tokenizer, ex)
            where = f"  read token {pos} of {n_tok}"
            if not skill.probed:  # nothing is read: show the plain text
                marked, where = ex.prompt or ex.target, ""
            print(
                f"[{i}] label={ex.label} ({skill.label_names[ex.label]})  "
                f"group={ex.group_key!r}{where}"
            )
            if skill.format == "minimal_pair":
                print(f"    good:   {marked}")
                print(f"    bad:    {' | '.join(ex.choices)}")
            else:
                print("    prompt: " + marked.replace("\n", "\n" + " " * 12))  # k-shot lines
                print(f"    target: {ex.target}")
                if ex.choices:
                    print(f"    wrong:  {' | '.join(ex.choices)}")
            unk = _unknown(tokenizer, f"{ex.prompt} {ex.target}")
            if unk:
                print(f"    note:   {unk} token(s) unknown to this tokenizer; pass --tokenizer")
    except SkillFileError as err:
        return _fail("\n".join(err.problems))
    except (CurriculensError, FileNotFoundError) as err:
        return _fail(str(err))
    return 0


# ---------------------------------------------------------------- validate
def cmd_validate(args: argparse.Namespace) -> int:
    """``curriculens skills validate FILE``: print every problem; exit 1 if any.

    A file that loads is then checked as a probe would use it: duplicate prompts, labels that a
    group split would leave in one split only, and the audit of the items a default sweep draws
    (:mod:`curriculens.analysis.audit`).
    """
    from curriculens.skills.files import validate_skill_file

    bad = 0
    for f in args.files:
        try:
            problems = validate_skill_file(f)
        except (CurriculensError, OSError) as err:  # e.g. unreadable: permissions
            problems = [f"{f}:0: file: cannot be read ({err}) — check the path and permissions"]
        audit = None
        if not problems:
            problems, audit = _probe_problems(f)
        if not problems and args.checkpoint:
            problems = _context_problems(f, args.checkpoint)
        for p in problems:
            print(p)
        if problems:
            bad += 1
        else:
            print(f"{f}: ok ({audit})")
    if bad:
        print(f"{bad} of {len(args.files)} file(s) have problems", file=sys.stderr)
    return 1 if bad else 0


def _context_problems(path: str, checkpoint: str) -> list[str]:
    """The sweep's plan-time check of prompt lengths against ``checkpoint``'s context."""
    from pathlib import Path

    from curriculens.checkpoints import Checkpoint
    from curriculens.checkpoints.weights import load_tokenizer
    from curriculens.pipeline.plan import check_examples_fit, checkpoint_context
    from curriculens.skills.files import load_skill_file

    d = Path(checkpoint)
    if not (d / "config.json").is_file():
        raise ConfigError(
            f"--checkpoint {checkpoint!r} holds no config.json; give a checkpoint folder "
            "written by save_pretrained."
        )
    c = Checkpoint(label=d.name, step=0, tokens=0, path=d)
    n_ctx = checkpoint_context(c)
    if n_ctx is None:
        return []
    skill = load_skill_file(path, register=False)
    try:
        check_examples_fit(skill, skill.build.examples, n_ctx,
                           lambda: load_tokenizer(str(d), c.label))  # fmt: skip
    except CurriculensError as err:
        return [f"{path}: context: {err}"]
    return []


def _probe_problems(path: str) -> tuple[list[str], str]:
    """Problems of a loadable skill file as probe data, and the audit's one-line summary."""
    from collections import Counter

    from curriculens.analysis.audit import audit_items
    from curriculens.probes.splits import draw_items
    from curriculens.skills.files import load_skill_file

    skill = load_skill_file(path, register=False)
    examples = skill.build.examples
    problems = []
    twice = {k: c for k, c in Counter(e.text_key for e in examples).items() if c > 1}
    if twice:
        text, count = max(twice.items(), key=lambda kv: kv[1])
        problems.append(
            f"{path}: prompts: {len(twice)} prompt(s) occur on more than one line (e.g. "
            f"{text!r} x{count}) — give each prompt once; a sweep draws each (prompt, group) "
            "once, and the same prompt in two groups leaks across the train/test split"
        )
    groups: dict[int, set[str]] = {}
    for e in examples:
        groups.setdefault(e.label, set()).add(e.group_key)
    for label, members in sorted(groups.items()):
        if len(members) < 2:
            problems.append(
                f"{path}: group: label {skill.label_names[label]!r} occurs in one group only "
                f"({next(iter(members))!r}), so a group split puts it in one split — add "
                "examples of this label from other groups"
            )
    try:
        items = draw_items(skill, min(300, len(examples)), seed=0, train_frac=0.7)
    except CurriculensError as err:
        return [*problems, f"{path}: items: {err}"], ""
    r = audit_items(
        skill.name,
        [e.prompt or e.target for e in items.examples],
        items.groups,
        items.labels,
        items.train,
    )
    if r.verdict != "ok":
        problems.append(f"{path}: audit: leaky — {r.reason}")
    summary = (
        f"{items.n} items in {items.n_groups} groups; audit ok: no test prompt or group in "
        f"training, chance {r.chance:.2f}"
    )
    return problems, summary


add_skills_parser = add_parser  # the name earlier versions exported
