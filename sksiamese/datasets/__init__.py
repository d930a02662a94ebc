"""Data sets for Siamese networks: Omniglot, SICK, image folders, generated classes."""

from ._base import get_data_home
from .images import load_image_folder
from .omniglot import evaluate_one_shot_runs, fetch_omniglot, fetch_omniglot_one_shot
from .sick import load_sick
from .synthetic import make_generator_classes

__all__ = [
    "evaluate_one_shot_runs",
    "fetch_omniglot",
    "fetch_omniglot_one_shot",
    "get_data_home",
    "load_image_folder",
    "load_sick",
    "make_generator_classes",
]
