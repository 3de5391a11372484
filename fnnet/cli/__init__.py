"""The ``fnnet`` command: ``main`` (dispatch, errors, signals), ``parser`` (every
option), ``printing`` (progress and tables), and one module per subcommand."""
