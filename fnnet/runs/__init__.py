"""The run pipeline behind the ``fnnet`` command: settings, data preparation, run
directories and the files in them, training, resuming and reading a run back, and
ensemble runs. No JAX at import: the command's ``--help`` never waits for it."""
