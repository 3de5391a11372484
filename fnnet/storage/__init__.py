"""fnnet's own files on disk: atomic replacement (``atomic``), directory locks
(``locks``), one-file checkpoints of any pytree (``checkpoint``). NumPy and the standard
library only, but for the checkpoint's PRNG keys."""
