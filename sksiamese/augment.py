"""Random image transformations applied to each training batch, one per sample."""

import math
from numbers import Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch.nn import functional as F

from ._distances import kneighbors

__all__ = ["RandomAffine", "mirror_agreement"]


class RandomAffine:
    """A random affine distortion of each image: rotation, scale, shift, shear.

    Distortions in the manner of Koch, Zemel and Salakhutdinov (2015) for
    Omniglot: every image of a batch gets its own transform, drawn from
    ``generator`` (the estimator's seeded one during ``fit``), and is
    resampled on the batch's device with ``torch.nn.functional.affine_grid``
    and ``grid_sample``. Use it as
    ``SiameseTransformer(augment=RandomAffine())``; ``augment="affine"`` is
    ``RandomAffine()`` with these defaults, and ``augment="auto"`` uses it on
    small image sets.

    The defaults are small: on images of 28x28 and a few hundred training
    images (characters, faces), larger ranges (shear 0.15, rotations of 10
    degrees) taught less about new classes than rotations of 8 degrees,
    scaling by up to 10% and shifts of up to 5% without shear.

    Parameters
    ----------
    degrees : float, default=8.0
        Rotations are drawn uniformly from ``[-degrees, degrees]``.
    translate : float, default=0.05
        Shifts, as a fraction of the image's width and height, uniform in
        ``[-translate, translate]``.
    scale : tuple of float, default=(0.9, 1.1)
        Zoom factors, uniform in that range.
    shear : float, default=0.0
        Horizontal shear factor, uniform in ``[-shear, shear]``.
    hflip : bool, default=False
        Also mirror half of the images left to right (for faces, not for
        characters).
    padding_mode : {"zeros", "border", "reflection"}, default="zeros"
        What fills the pixels that come from outside the image (zeros suit
        ink on blank paper).

    Examples
    --------
    >>> import torch
    >>> from sksiamese.augment import RandomAffine
    >>> images = torch.rand(4, 1, 28, 28)
    >>> out = RandomAffine()(images, generator=torch.Generator().manual_seed(0))
    >>> out.shape
    torch.Size([4, 1, 28, 28])
    """

    def __init__(self, degrees=8.0, translate=0.05, scale=(0.9, 1.1), shear=0.0,
                 hflip=False, padding_mode="zeros"):
        self.degrees = degrees
        self.translate = translate
        self.scale = scale
        self.shear = shear
        self.hflip = hflip
        self.padding_mode = padding_mode
        self._check_params()

    def _check_params(self):
        def number(value):
            return isinstance(value, Real) and not isinstance(value, bool) and (
                math.isfinite(value))

        scale = self.scale
        if (not isinstance(scale, (tuple, list)) or len(scale) != 2
                or not all(map(number, scale)) or not 0 < scale[0] <= scale[1]):
            raise ValueError(
                f"RandomAffine: scale must be a pair (low, high) of zoom factors "
                f"with 0 < low <= high, for example (0.9, 1.1); got {scale!r}. "
                "For no zoom, pass (1.0, 1.0)."
            )
        for name in ("degrees", "translate", "shear"):
            value = getattr(self, name)
            if not number(value) or value < 0:
                raise ValueError(
                    f"RandomAffine: {name} must be a finite number >= 0; got "
                    f"{value!r}."
                )

    def __repr__(self):
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, shear={self.shear}, hflip={self.hflip}, "
                f"padding_mode={self.padding_mode!r})")

    def __call__(self, images, generator=None):
        """Distort each image of ``images`` (``(n, H, W)`` or ``(n, C, H, W)``)."""
        flat = images.ndim == 3
        x = images.unsqueeze(1) if flat else images
        n = x.shape[0]
        u = torch.rand(n, 6, generator=generator, dtype=torch.float64) * 2 - 1
        angle = u[:, 0] * math.radians(self.degrees)
        low, high = self.scale
        zoom = low + (u[:, 1] + 1) / 2 * (high - low)
        shear = u[:, 2] * self.shear
        flip = torch.where((u[:, 5] > 0) & self.hflip, -1.0, 1.0).to(u.dtype)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # affine_grid maps output to input coordinates in [-1, 1]: rotation
        # times shear, divided by the zoom, and a shift of 2 * translate.
        theta = torch.zeros(n, 2, 3, dtype=u.dtype)
        theta[:, 0, 0] = cos * flip / zoom
        theta[:, 0, 1] = (cos * shear - sin) / zoom
        theta[:, 1, 0] = sin * flip / zoom
        theta[:, 1, 1] = (sin * shear + cos) / zoom
        theta[:, 0, 2] = u[:, 3] * 2 * self.translate
        theta[:, 1, 2] = u[:, 4] * 2 * self.translate
        theta = theta.to(device=x.device, dtype=x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, padding_mode=self.padding_mode,
                            align_corners=False)
        return out.squeeze(1) if flat else out


def mirror_agreement(images, labels, *, max_images=2000, random_state=None):
    """How well left-right mirror images keep their class, in raw pixels.

    Each image (up to ``max_images`` of them, drawn with ``random_state``)
    is classified by its nearest other image, once as it is and once
    mirrored left to right. Returns ``(agreement, accuracy,
    mirrored_accuracy)``, where ``agreement`` is the mirrored accuracy as a
    fraction of the plain one, both counted above chance (``1 / n_classes``):
    near 1 where a mirror image is as recognisable as the image (aligned
    faces), far below where mirroring makes another symbol (characters,
    signatures; about 0.3 on Omniglot). ``agreement`` is NaN where the plain
    accuracy is not above chance, as nothing can then be told.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    # Only images with another of their class can be recognised.
    keep = np.isin(labels, classes[counts >= 2])
    rows = np.flatnonzero(keep)
    if len(rows) > max_images:
        rows = np.sort(check_random_state(random_state).choice(
            rows, max_images, replace=False))
    if not len(rows):
        return float("nan"), 0.0, 0.0
    X, y = images[rows], labels[rows]
    flat = X.reshape(len(X), -1)
    mirrored = X[..., ::-1].reshape(len(X), -1)
    chance = 1 / len(np.unique(y))

    def accuracy(queries):
        nearest = kneighbors(queries, flat, 1, exclude_self=True)[1][:, 0]
        return float(np.mean(y[nearest] == y))

    plain, mirror = accuracy(flat), accuracy(mirrored)
    if plain <= chance:
        return float("nan"), plain, mirror
    return (mirror - chance) / (plain - chance), plain, mirror
