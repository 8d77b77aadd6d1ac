"""Offline test utilities: synthetic clips with ground truth and tiny randomly initialised models.

Everything here works without a network. The builders save real checkpoint files
that load through the same code paths as the published models.
"""
