"""Vectorised online models: each object holds a bank of N streams and updates them all per time step.

Style follows River's ``predict_one``/``learn_one`` but over arrays: ``predict(ctx)`` returns one
prediction per stream, ``learn(ctx, y, mask)`` updates the streams where ``mask`` is True.
"""

from .bank import MODEL_NAMES, Engine, Layout

__all__ = ["MODEL_NAMES", "Engine", "Layout"]
