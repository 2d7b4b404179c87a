"""The toy world: synthetic multi-skill corpus, tiny trainer, the built-in demo and data-mix optimization.

Core stages never import this package; only ``curriculens.cli`` does.
"""
