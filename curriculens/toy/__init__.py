"""The toy world: synthetic corpus, tiny trainer, the built-in demo and data-mix optimization.

Core stages never import this package; only ``curriculens.cli`` does.
"""
