"""Runnable examples: ``python -m indian_optax.examples.<name> --help``."""
