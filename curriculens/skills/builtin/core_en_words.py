"""The core-en suite's vocabulary: its label names, and the word tables read from package data.

The word tables (subjects, templates, word lists, plural and gerund pairs, negation states,
antonyms) live
in ``skills/builtin/data/core_en_words.json``, and the countries in ``data/countries.csv``; this
module reads them once, as tuples and dicts of tuples, for
:mod:`~curriculens.skills.builtin.core_en` and :mod:`~curriculens.skills.builtin.core_en_icl`.
A skill's content hash covers its examples,
so an edit to a table shows in the hash of every skill that draws from it.
"""

from __future__ import annotations

import csv
import json
from importlib import resources

SUITE = "core-en"

#: Label names of the probes (and, for NUMBER, the agreement classes).
NUMBER = ("singular", "plural")
CONTINENTS = ("europe", "asia", "africa", "americas", "oceania")
CARRY = ("no_carry", "carry")
TENS_PARITY = ("tens_even", "tens_odd")
CATEGORIES = ("animal", "food", "place", "object")
IOI_POSITION = ("io_first", "io_second")
PLURAL_CLASSES = ("add_s", "add_es", "y_to_ies", "irregular")
GERUND_CLASSES = ("add_ing", "drop_e", "double")
STATE_OF_PAIR = ("first_state", "second_state")


def _data_text(name: str) -> str:
    return resources.files("curriculens.skills.builtin").joinpath(f"data/{name}").read_text("utf-8")


def _tuples(value):
    """JSON lists back to the tuples the builders index (dict values converted too)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


_TABLES = {k: _tuples(v) for k, v in json.loads(_data_text("core_en_words.json")).items()}

#: (singular, plural) subjects; the group of an agreement item is its subject's singular.
SUBJECTS: tuple[tuple[str, str], ...] = _TABLES["SUBJECTS"]
#: (singular, plural) attractors, none of them a subject.
ATTRACTORS: tuple[tuple[str, str], ...] = _TABLES["ATTRACTORS"]
PREPOSITIONS: tuple[str, ...] = _TABLES["PREPOSITIONS"]
#: Number-neutral asides between a subject and its verb: no noun, no pronoun.
ASIDES: tuple[str, ...] = _TABLES["ASIDES"]
#: (singular, plural) verb forms; the continuation is the verb.
BE_FORMS: tuple[tuple[str, str], ...] = _TABLES["BE_FORMS"]

#: Rows of ``skills/builtin/data/countries.csv``: country, capital, currency, continent.
COUNTRIES: tuple[dict[str, str], ...] = tuple(
    dict(row) for row in csv.DictReader(_data_text("countries.csv").splitlines())
)
#: Countries whose name takes 'the' in a prompt.
WITH_THE = ("United States",)
#: Templates per relation; each ends on the token before the answer ('is' or 'the').
FACT_TEMPLATES: dict[str, tuple[str, ...]] = _TABLES["FACT_TEMPLATES"]

ADD_TEMPLATES: tuple[str, ...] = _TABLES["ADD_TEMPLATES"]

#: Words of each category, for the copy and reverse tasks.
WORDS: dict[str, tuple[str, ...]] = _TABLES["WORDS"]
WORD_CATEGORY = {w: c for c, words in WORDS.items() for w in words}

NAMES: tuple[str, ...] = _TABLES["NAMES"]
IOI_TEMPLATES: tuple[str, ...] = _TABLES["IOI_TEMPLATES"]

#: (singular, plural) pairs per plural class.
PLURALS: dict[str, tuple[tuple[str, str], ...]] = _TABLES["PLURALS"]
#: (verb, gerund) pairs per spelling class.
GERUNDS: dict[str, tuple[tuple[str, str], ...]] = _TABLES["GERUNDS"]

#: Complementary states and the nouns that take them, so 'not open' means 'closed'. Every
#: state pair has several nouns, so a probe split by noun sees every pair in training.
STATES: tuple[tuple[tuple[str, str], tuple[str, ...]], ...] = _TABLES["STATES"]
NEGATION_TEMPLATES: tuple[str, ...] = _TABLES["NEGATION_TEMPLATES"]

#: Antonym pairs for the few-shot lookup task; every word occurs once, in one pair.
ANTONYMS: tuple[tuple[str, str], ...] = _TABLES["ANTONYMS"]
