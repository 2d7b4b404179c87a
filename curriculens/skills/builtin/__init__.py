"""Built-in skill suites: ``toy`` (matched to the synthetic corpus) and ``core-en``."""
