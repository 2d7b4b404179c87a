"""Registration of the built-in skills: the probe statement is read from the builder's docstring.

Every built-in builder's docstring has one paragraph that starts ``Probe:`` (what the probe
decodes, where it reads, and why a lexical shortcut cannot pass it on held-out groups) or
``No probe:`` (why the skill is scored for behavior only). That paragraph becomes
:attr:`Skill.probe`, so the docstring and ``curriculens skills show`` never disagree.
"""

from __future__ import annotations

import inspect

from curriculens.errors import SkillError
from curriculens.skills.registry import Builder, register_skill

_PROBED, _UNPROBED = "Probe:", "No probe:"


def probe_paragraph(doc: str) -> tuple[bool, str]:
    """``(probed, text)`` from the docstring paragraph that starts ``Probe:`` or ``No probe:``.

    >>> probe_paragraph("Title.\\n\\nProbe: the carry,\\n  read at '='.\\n\\nMore.")
    (True, "the carry, read at '='.")
    >>> probe_paragraph("Title.\\n\\nNo probe: nothing to read.")
    (False, 'nothing to read.')
    """
    found = []
    for para in inspect.cleandoc(doc or "").split("\n\n"):
        for head, probed in ((_UNPROBED, False), (_PROBED, True)):
            if para.startswith(head):
                found.append((probed, " ".join(para[len(head) :].split())))
                break
    if len(found) != 1:
        raise SkillError(
            f"a built-in skill's docstring needs exactly one paragraph starting {_PROBED!r} or "
            f"{_UNPROBED!r}; found {len(found)}."
        )
    return found[0]


def builtin_skill(name: str, **kwargs):
    """``register_skill`` for a built-in; ``probe`` and ``probed`` come from the docstring."""

    def decorator(build: Builder) -> Builder:
        probed, text = probe_paragraph(build.__doc__ or "")
        return register_skill(name, probe=text, probed=probed, **kwargs)(build)

    return decorator
