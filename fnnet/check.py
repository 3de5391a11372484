"""The old name of ``fnnet.gradcheck``, importable for one release."""

import warnings

from fnnet.gradcheck import *  # noqa: F401,F403
from fnnet.gradcheck import METHODS, RTOL, LeafError, Report  # noqa: F401

warnings.warn("fnnet.check is now fnnet.gradcheck", DeprecationWarning, stacklevel=2)
