"""One evaluation item of a skill: the prompt, its target, the probe label and where it reads.

Its own module, below both :mod:`~curriculens.skills.registry` and
:mod:`~curriculens.skills.fewshot`, which each build on it; the registry re-exports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, kw_only=True)
class Example:
    """One evaluation item of a skill.

    Attributes:
        prompt: Text the model reads. Empty for a minimal pair (then ``target`` and ``choices`` are
            whole sentences).
        target: The correct continuation (or, for a minimal pair, the good sentence). Words are
            separated from the prompt by one space, which the tokenizer handles.
        label: Class of the latent variable the probe decodes (an int in ``range(n_classes)``).
        read_at: Prompt token index the probe reads (negative counts from the end), used when
            ``read_after`` is empty.
        read_after: Anchor substring of the prompt: the probe reads the token holding its last
            character (first occurrence). Resolved per tokenizer.
        choices: Wrong alternatives for ``choice`` and ``minimal_pair`` formats.
        group: The entity that determines the label (the noun, the country, the operand pair,
            the name pair, the bracket string). Probes are split by group, so no test group is
            ever seen in training. Empty means the prompt itself (see :attr:`group_key`).
        read_from: Character offset from which ``read_after`` is searched: where the query of a
            k-shot prompt starts, after its demonstrations (0 for other prompts).
    """

    prompt: str
    target: str
    label: int
    read_at: int = -1
    read_after: str = ""
    choices: tuple[str, ...] = ()
    group: str = ""
    read_from: int = 0

    @property
    def text_key(self) -> str:
        """What makes two examples the same item: the prompt, or a minimal pair's sentences."""
        return self.prompt if self.prompt else "\x1f".join((self.target, *self.choices))

    @property
    def group_key(self) -> str:
        """The split unit: :attr:`group`, or the item's own text when no group is declared.

        >>> Example(prompt="kalo lives in", target="paris", label=0).group_key
        'kalo lives in'
        """
        return self.group or self.text_key

    def to_json(self) -> dict:
        d = asdict(self)
        d["choices"] = list(self.choices)
        if not self.read_from:  # only k-shot prompts have one; other items hash as before
            del d["read_from"]
        return d
