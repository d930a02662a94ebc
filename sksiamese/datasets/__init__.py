"""Data sets for Siamese networks: Omniglot, its one-shot runs, SICK, image folders."""

from ._base import get_data_home
from .images import load_image_folder
from .omniglot import evaluate_one_shot_runs, fetch_omniglot, fetch_omniglot_one_shot
from .sick import load_sick

__all__ = [
    "evaluate_one_shot_runs",
    "fetch_omniglot",
    "fetch_omniglot_one_shot",
    "get_data_home",
    "load_image_folder",
    "load_sick",
]
