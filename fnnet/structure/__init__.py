"""The structure search (the notes' "can the structure be determined automatically?"):
the space and its candidates, candidates padded into groups that train as one program,
the evolution, cross-validation of finalists, and the report."""
