"""The layers: the protocol every layer follows (``protocol``), and the built-ins, each
forward rule beside its hand-written backward rule: dense, maxout, dropout, conv
(Conv1D, Conv2D), pool (max and average, 1-D and 2-D), flatten."""
