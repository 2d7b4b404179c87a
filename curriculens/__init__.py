"""curriculens: map the implicit curriculum of language-model pretraining."""

__version__ = "0.1.0"
