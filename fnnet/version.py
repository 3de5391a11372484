"""fnnet's version, in a module of its own so that the run pipeline can record it
without importing the package's face."""

__version__ = "0.1.0"
