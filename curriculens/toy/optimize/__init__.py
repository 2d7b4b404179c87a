"""Close the loop: turn a run's curriculum map into a data-mix change, and measure what it does.

``propose`` reads the map and proposes corpus weights (:mod:`.strategies`); ``verify`` retrains
the tiny model with the baseline and the proposed mix and compares them (:mod:`.verify`).
"""

from curriculens.toy.optimize.strategies import (
    STRATEGIES,
    Phase,
    Proposal,
    map_to_sources,
    propose,
    propose_staged,
    propose_upweight,
)
from curriculens.toy.optimize.verify import VerifyConfig

__all__ = [
    "STRATEGIES",
    "Phase",
    "Proposal",
    "VerifyConfig",
    "map_to_sources",
    "propose",
    "propose_staged",
    "propose_upweight",
]
