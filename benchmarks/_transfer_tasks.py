"""Held-out-class tasks and a hand-written PyTorch reference for transfer.py.

Nothing here imports sksiamese except the Omniglot loader, so the reference
loop (``plain_fit``) is an independent check of the library's training.
"""

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from sksiamese.datasets import make_generator_classes

TEST_ALPHABETS = ("Japanese_(katakana)", "Sanskrit", "Tagalog")


@dataclass
class Task:
    """Training classes and disjoint test classes, with the episodes to score."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    ways: tuple
    groups: np.ndarray = None
    images: bool = False
    note: str = ""


def omniglot_task(data, image_size=28, rotations=False, max_classes=None):
    """Train on background_small1; test on the alphabets only background_small2 has.

    ``rotations`` adds each training character turned by 90, 180 and 270
    degrees as three new classes (a rotated character is a different symbol).
    """
    from sksiamese.datasets import fetch_omniglot

    kw = dict(data_home=Path(data), download_if_missing=False, image_size=image_size)
    train = fetch_omniglot("background_small1", **kw)
    test = fetch_omniglot("background_small2", **kw)
    X, y = train.images, train.target
    if max_classes is not None:
        keep = y < max_classes
        X, y = X[keep], y[keep]
    if rotations:
        n = y.max() + 1
        X = np.concatenate([np.rot90(X, k, axes=(1, 2)) for k in range(4)])
        y = np.concatenate([y + k * n for k in range(4)])
    wanted = [list(test.alphabet_names).index(a) for a in TEST_ALPHABETS]
    keep = np.isin(test.groups, wanted)
    alphabet = test.alphabet_names[test.groups[keep]]
    return Task(
        "omniglot",
        np.ascontiguousarray(X, dtype=np.float32),
        y,
        test.images[keep],
        test.target[keep],
        (5, 20),
        groups=alphabet,
        images=True,
        note=(
            f"train background_small1, {len(np.unique(y))} classes x 20"
            f"{' (with rotations)' if rotations else ''}, {image_size}x{image_size};"
            f" test {', '.join(TEST_ALPHABETS)} ({len(np.unique(test.target[keep]))}"
            " classes), within-alphabet episodes"
        ),
    )


def few_class_task(data, image_size=28, n_classes=20, per_class=10, seed=0):
    """A small set, like twenty people with ten photos each.

    ``n_classes`` characters of ``images_background_small1`` drawn with
    ``seed``, ``per_class`` of their 20 drawings each (drawn with the same
    seed); tested as ``omniglot_task``, 5- and 20-way within alphabet on the
    alphabets only ``images_background_small2`` has.
    """
    full = omniglot_task(data, image_size)
    rng = np.random.RandomState(seed)
    classes = rng.choice(np.unique(full.y_train), n_classes, replace=False)
    rows = np.concatenate([
        rng.choice(np.flatnonzero(full.y_train == c), per_class, replace=False)
        for c in classes
    ])
    return Task(
        f"few-class-s{seed}",
        full.X_train[rows],
        full.y_train[rows],
        full.X_test,
        full.y_test,
        full.ways,
        groups=full.groups,
        images=True,
        note=(
            f"{n_classes} characters of background_small1 x {per_class} drawings "
            f"(drawn with seed {seed}), {image_size}x{image_size}; test as omniglot"
        ),
    )


def digits_task(images=False):
    """scikit-learn's digits scaled to [0, 1]: train on 0-4, test on 5-9.

    ``images=True`` gives them as 8x8 images, for the ConvNets (and
    augmentation) instead of the MLPs.
    """
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    if images:
        X = X.reshape(-1, 8, 8)
    train = y < 5
    return Task(
        "digits-img" if images else "digits",
        X[train],
        y[train],
        X[~train],
        y[~train],
        (5,),
        images=images,
        note=f"load_digits / 16{' as 8x8 images' if images else ''}, "
        "train digits 0-4, test 5-9",
    )


def generated_task(
    n_classes=200,
    per_class=20,
    latent=8,
    style=4,
    n_signal=64,
    n_nuisance=32,
    nuisance_scale=2.0,
    jitter=0.5,
    seed=0,
    name="generated",
):
    """Many classes from one shared generator; train on half, test on the rest.

    Each class is a point in an ``latent``-dimensional space; each sample adds
    a small within-class jitter and a large random ``style`` vector, and the
    two go through one fixed random two-layer tanh network to ``n_signal``
    features, to which ``n_nuisance`` columns of pure noise are appended.
    Identity is fully present in the raw features (nearest neighbours work
    well above chance), but style and the nuisance columns move samples as
    much as identity does. Both are properties of the generator, common to
    every class, so an embedding that learns to ignore them on the training
    classes should ignore them on new classes too: a fair, beatable test.
    """
    X, y = make_generator_classes(
        n_classes, per_class, n_identity=latent, n_style=style, n_features=n_signal,
        n_noise=n_nuisance, noise_scale=nuisance_scale, jitter=jitter,
        random_state=seed,
    )
    train = y < n_classes // 2
    return Task(
        name,
        X[train],
        y[train],
        X[~train],
        y[~train],
        (5, 20),
        note=(
            f"{n_classes} classes x {per_class} from one random tanh "
            f"generator ({latent} identity + {style} style latents -> "
            f"{n_signal} features, + {n_nuisance} noise columns); train "
            f"on {n_classes // 2} classes, test on the other "
            f"{n_classes - n_classes // 2}"
        ),
    )


# ----------------------------------------------------------------------------
# The hand-written reference loop: plain PyTorch, no sksiamese code.


def random_affine(x, generator, rotation=10.0, scale=(0.9, 1.1), shift=0.1, shear=0.15):
    """Each image of ``x`` (N, C, H, W) under its own small random affine map.

    Rotation in degrees, shift as a fraction of the half-width (affine_grid's
    [-1, 1] coordinates), shear as a tangent. Drawn from ``generator`` on
    ``x``'s device; the background (0) fills what comes in from outside.
    """
    n = x.shape[0]

    def uniform(low, high):
        u = torch.rand(n, generator=generator, device=x.device, dtype=x.dtype)
        return low + (high - low) * u

    angle = uniform(-rotation, rotation) * (math.pi / 180)
    s = uniform(*scale)
    sh = uniform(-shear, shear)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([s * cos, s * (sh * cos - sin), uniform(-shift, shift)], 1),
            torch.stack([s * sin, s * (sh * sin + cos), uniform(-shift, shift)], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def fitting_depth(side):
    """Blocks that halve ``side`` and leave it at least 2 (28 -> 3, 8 -> 2)."""
    depth = 0
    while side // 2 >= 2:
        side //= 2
        depth += 1
    return max(1, depth)


def conv_net(n_components, side, width=64, depth=None):
    depth = fitting_depth(side) if depth is None else depth
    layers, c = [], 1
    for _ in range(depth):
        # Small images (8x8 digits) stop halving at 1 pixel.
        layers += [
            nn.Conv2d(c, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2) if side >= 2 else nn.Identity(),
        ]
        c, side = width, side // 2
    return nn.Sequential(
        *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, n_components)
    )


def mlp_net(n_features, n_components, hidden=512):
    return nn.Sequential(
        nn.Linear(n_features, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_components),
    )


def batch_hard_triplet(E, labels, margin):
    """Hardest positive and hardest negative of each anchor (Hermans et al. 2017)."""
    sq = (E * E).sum(1)
    D = (sq[:, None] + sq[None, :] - 2 * E @ E.T).clamp_min(1e-12).sqrt()
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(E), dtype=torch.bool, device=E.device)
    hardest_pos = D.masked_fill(~same | eye, 0).amax(1)
    hardest_neg = D.masked_fill(same, float("inf")).amin(1)
    valid = (same & ~eye).any(1) & (~same).any(1)
    return F.relu(hardest_pos - hardest_neg + margin)[valid].mean()


def pk_batches(y, n_groups, k, rng):
    """Batches of ``n_groups`` groups of ``k`` same-class rows, as index arrays."""
    groups = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        groups += [idx[i : i + k] for i in range(0, len(idx) - k + 1, k)]
    order = rng.permutation(len(groups))
    return [
        np.concatenate([groups[g] for g in order[i : i + n_groups]])
        for i in range(0, len(order), n_groups)
    ]


class PlainEmbedding:
    """A trained module behind ``transform``, so the episode metric can use it."""

    def __init__(self, module, normalize, images):
        self.module, self.normalize, self.images = module, normalize, images

    @torch.no_grad()
    def transform(self, X):
        self.module.eval()
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
        if self.images and X.ndim == 3:
            X = X[:, None]
        out = torch.cat([self.module(X[i : i + 512]) for i in range(0, len(X), 512)])
        if self.normalize:
            out = F.normalize(out, dim=1)
        return out.numpy()


def plain_fit(
    task,
    *,
    epochs=None,
    seconds=None,
    augment=True,
    affine=None,
    cosine=True,
    normalize=True,
    margin=0.2,
    n_components=64,
    lr=1e-3,
    batch_size=128,
    k=4,
    width=64,
    depth=None,
    hidden=512,
    seed=0,
):
    """Train the reference embedding on ``task``'s training classes.

    For ``epochs`` epochs, or for ``seconds`` of wall-clock time (then the
    cosine schedule runs over the time, and training stops when it is up).
    ``affine`` are keyword arguments of ``random_affine``; ``depth`` None
    fits the image size (``fitting_depth``).
    """
    if (epochs is None) == (seconds is None):
        raise ValueError("give epochs or seconds")
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    gen = torch.Generator().manual_seed(seed)
    X = torch.as_tensor(task.X_train)
    if task.images:
        X = X[:, None]
        model = conv_net(n_components, min(X.shape[-2:]), width, depth)
    else:
        model = mlp_net(X.shape[1], n_components, hidden)
    y = torch.as_tensor(task.y_train)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n_groups = batch_size // k
    steps = None if epochs is None else epochs * len(
        pk_batches(task.y_train, n_groups, k, rng))
    start, losses, step = time.perf_counter(), [], 0
    while True:
        model.train()
        total = 0.0
        batches = pk_batches(task.y_train, n_groups, k, rng)
        for idx in batches:
            done = (time.perf_counter() - start) / seconds if seconds else step / steps
            if seconds and done >= 1:
                break
            if cosine:
                for group in opt.param_groups:
                    group["lr"] = lr * (1 + math.cos(math.pi * min(done, 1))) / 2
            xb, yb = X[idx], y[idx]
            if augment and task.images:
                xb = random_affine(xb, gen, **(affine or {}))
            E = model(xb)
            if normalize:
                E = F.normalize(E, dim=1)
            loss = batch_hard_triplet(E, yb, margin)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            total += loss.item()
        losses.append(total / max(1, len(batches)))
        if (seconds and time.perf_counter() - start >= seconds) or (
            steps and step >= steps
        ):
            break
    seconds = time.perf_counter() - start
    return PlainEmbedding(model, normalize, task.images), seconds, losses
