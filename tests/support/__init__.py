"""What the tests share: networks and data (``nets``), NumPy references of the notes'
formulas (``numpy_ref``), the worst gradient disagreement seen (``worst_seen``), the
scripts that run in processes of their own, and the repository's root."""

import pathlib

#: The repository's root (README.md, examples/, bench/).
ROOT = pathlib.Path(__file__).resolve().parents[2]
