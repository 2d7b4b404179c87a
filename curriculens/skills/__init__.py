"""Skills: the registry, the built-in suites, and user skill files."""

from curriculens.skills.registry import (
    Example,
    Skill,
    add_skill,
    get_skill,
    list_skills,
    register_skill,
    unregister_skill,
)

__all__ = [
    "Example",
    "Skill",
    "add_skill",
    "get_skill",
    "list_skills",
    "register_skill",
    "unregister_skill",
]
