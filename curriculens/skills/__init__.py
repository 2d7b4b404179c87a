"""Skills: the registry, the built-in suites (toy world, core-en) and user skill files."""

from curriculens.skills.files import load_skill_file, load_skill_files, validate_skill_file
from curriculens.skills.registry import (
    Example,
    Skill,
    add_skill,
    get_skill,
    list_skills,
    register_skill,
    resolve_read_position,
    unregister_skill,
)

__all__ = [
    "Example",
    "Skill",
    "add_skill",
    "get_skill",
    "list_skills",
    "load_skill_file",
    "load_skill_files",
    "register_skill",
    "resolve_read_position",
    "unregister_skill",
    "validate_skill_file",
]
