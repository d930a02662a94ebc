"""Siamese networks as scikit-learn estimators, trained with skorch and PyTorch."""

from .one_shot import OneShotClassifier
from .pair_regressor import SiamesePairRegressor
from .pairs import SiamesePairClassifier
from .text import TokenSequencer
from .transformer import SiameseTransformer

__all__ = ["OneShotClassifier", "SiamesePairClassifier", "SiamesePairRegressor",
           "SiameseTransformer", "TokenSequencer"]
__version__ = "0.1.0"
