"""The ``curriculens`` command line: one module per command, one error handler
(:func:`curriculens.cli.main.main`, also run by ``python -m curriculens``)."""
