"""Exceptions raised by curriculens: one base class, a few kinds, messages that say how to fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CurriculensError(Exception):
    """Base class of every error curriculens raises on purpose."""

    #: the command line's exit status: 2 for a usage error (:class:`EnvironmentProblem`: 1)
    exit_code = 2


class ConfigError(CurriculensError, ValueError):
    """A configuration value or command-line argument is out of range or of the wrong type."""


class SkillError(CurriculensError, KeyError):
    """A skill is unknown, registered twice, or its definition is malformed."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SkillFileError(CurriculensError, ValueError):
    """A user skill file (JSONL or BLiMP) has problems; ``problems`` lists every one of them."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class CheckpointError(CurriculensError, ValueError):
    """A checkpoint or checkpoint series cannot be found, read or trusted."""


class HookNameError(CurriculensError, KeyError):
    """A TransformerLens hook name does not exist on the model."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ProbeError(CurriculensError, ValueError):
    """A probe cannot be fit on the data it was given."""


class StoreError(CurriculensError, RuntimeError):
    """The results store is missing, locked by another writer, or of an unknown schema."""


class EnvironmentProblem(CurriculensError, OSError):
    """The machine, not the request, stopped the command: a full disk, read-only storage, a
    missing permission. The command line exits 1 for it (2 for every other error)."""

    exit_code = 1


class CurriculensWarning(UserWarning):
    """Base class of curriculens' warnings (the CLI prints them as ``curriculens CMD: warning:
    ...``)."""


class MixedResultsNote(CurriculensWarning):
    """A run holds rows of other configurations or skill versions than the ones read (the CLI
    prints it as ``curriculens CMD: note: ...``)."""


class UnmeasurableWarning(CurriculensWarning):
    """A checkpoint could not be measured (non-finite weights); its scores are NaN with a reason."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string.

    >>> did_you_mean("agrement", ["agreement", "facts"])
    " Did you mean 'agreement'?"
    """
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class ProbeValidityWarning(UserWarning):
    """A probe measurement is weaker than asked: fewer distinct items, or a leaky skill."""
