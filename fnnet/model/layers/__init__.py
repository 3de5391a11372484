"""The layers: the protocol every layer follows (``protocol``), and the built-ins, one a
module, each forward rule beside its hand-written backward rule."""
