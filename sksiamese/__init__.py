"""Siamese networks as scikit-learn estimators, trained with skorch and PyTorch."""

from .transformer import SiameseTransformer

__all__ = ["SiameseTransformer"]
__version__ = "0.1.0"
