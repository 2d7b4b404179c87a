"""curriculens: map the implicit curriculum of language-model pretraining."""
