"""The one-shot classifier's former module; :mod:`sksiamese.one_shot` holds it."""

from .one_shot import OneShotClassifier

__all__ = ["OneShotClassifier"]
