"""Warnings that point at the user's call, however deep in the package they arise."""

import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message, category):
    """``warnings.warn`` pointing at the first frame outside this package.

    That is the user's call (``fit``, or the ``Pipeline.fit`` that made it),
    however deep inside the package the warning is raised.
    """
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
