"""Close the loop: turn a run's curriculum map into a data-mix change, and measure what it does.

``propose`` reads the map and proposes corpus weights (:mod:`.strategies`); ``verify`` retrains
the tiny model with the baseline and the proposed mix and compares them (:mod:`.verify`).
"""

from curriculens.optimize.command import add_optimize_parser, run_optimize
from curriculens.optimize.strategies import (
    STRATEGIES,
    Phase,
    Proposal,
    map_to_sources,
    propose,
    propose_staged,
    propose_upweight,
)
from curriculens.optimize.verify import VerifyConfig

__all__ = [
    "STRATEGIES",
    "Phase",
    "Proposal",
    "VerifyConfig",
    "add_optimize_parser",
    "map_to_sources",
    "propose",
    "propose_staged",
    "propose_upweight",
    "run_optimize",
]
