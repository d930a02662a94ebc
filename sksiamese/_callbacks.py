"""skorch callbacks: last finite epoch, cosine schedule, held-out scoring, mining."""

import copy
import math
import re
import sys

import numpy as np
import torch
from skorch.callbacks import Callback, PrintLog, ProgressBar

from . import _distances, _scores
from ._net import Batches, TensorData, _take, bare_module, evaluating


class Diverged(RuntimeError):
    """Raised inside training when the loss or the weights stop being finite."""

    def __init__(self, epoch, what):
        super().__init__(f"{what} in epoch {epoch}")
        self.epoch = epoch
        self.what = what


class KeepLastFinite(Callback):
    """Snapshot the module after each sane epoch; stop where training blows up.

    An epoch counts as sane when every loss of its batches was finite, its
    weights are finite at its end (a step at a huge learning rate can turn
    the weights infinite while the loss it was computed from was not), and
    the embedding of a few training rows is finite and has not grown more
    than ``growth_limit`` times since the network's first training began
    (from at least 1): weights that grow without bound are a failed fit
    even while their values stay finite (``optimizer="sgd", lr=1e6`` gives
    embeddings of 1e24).
    """

    # Training rows embedded at each epoch's end to check that the weights
    # still give finite embeddings (weights of 1e18 are finite, their
    # products in float32 are not), and that they did not blow up.
    probe_rows = 16
    # How many times the probe rows' RMS embedding norm may grow from its
    # value before the network's first epoch (kept across continued fits:
    # partial_fit, warm_start) or 1, whichever is larger, so that a loop of
    # partial_fit calls cannot grow it without bound a little at a time.
    # Fits that work grow it far less:
    # 250 epochs of 200 digits grew them about 80 times at lr=1e-2 (Adam),
    # 50 times with SGD at lr=0.1; SGD at lr=1e6 grows them 1e24 times in
    # its first epoch.
    growth_limit = 1e6

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        data = X.X if isinstance(X, TensorData) else X
        self.probe_ = None if data is None else _take(data, slice(0, self.probe_rows))
        if getattr(self, "start_scale_", None) is None:
            self.start_scale_ = self._probe_scale(net)
        # A continued fit (warm_start, partial_fit) keeps the last snapshot.
        if not hasattr(self, "state_"):
            self._snapshot(net)

    def _snapshot(self, net):
        self.state_ = copy.deepcopy(bare_module(net).state_dict())
        self.epoch_ = len(net.history)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        # skorch has already recorded loss.item(): reading it adds no sync.
        value = net.history[-1]["batches"][-1]["train_loss"]
        if not math.isfinite(value):
            raise Diverged(len(net.history), f"the loss became {value}")

    def on_epoch_end(self, net, **kwargs):
        state = bare_module(net).state_dict()
        if not all(torch.isfinite(v).all() for v in state.values()
                   if v.is_floating_point()):
            raise Diverged(len(net.history), "the weights became NaN or infinite")
        scale = self._probe_scale(net)
        if not math.isfinite(scale):
            raise Diverged(len(net.history), "the weights grew so large that the "
                                             "embeddings became NaN or infinite")
        limit = self.growth_limit * max(self.start_scale_, 1.0)
        if scale > limit:
            raise Diverged(
                len(net.history),
                f"the embeddings grew without bound: their RMS norm on "
                f"{self.probe_rows} training rows went from "
                f"{self.start_scale_:.3g} to {scale:.3g}, more than "
                f"{self.growth_limit:g} times")
        self._snapshot(net)

    def _probe_scale(self, net):
        """RMS norm of the probe rows' embedding (NaN or inf if not finite)."""
        if self.probe_ is None:
            return 0.0
        with evaluating(net.module_):
            out = net.infer(self.probe_)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        # In float64: the squares of float32 values of 1e24 overflow float32.
        squares = [o.detach().double().reshape(len(o), -1).pow(2).sum(1).mean()
                   for o in outs if o.is_floating_point() and o.numel()]
        if not squares:
            return 0.0
        # torch's max, unlike Python's, keeps a NaN.
        return float(torch.stack(squares).max().sqrt())

    def restore(self, net):
        bare_module(net).load_state_dict(self.state_)


class CosineSchedule(Callback):
    """Anneal each learning rate from its own value to 0 over ``epochs``, as a cosine.

    The schedule of ``torch.optim.lr_scheduler.CosineAnnealingLR`` stepped
    once per epoch, written as a callback that sets the optimizer's learning
    rates: torch's schedulers patch the optimizer's ``step``, which makes an
    optimizer wrapped by accelerate unpicklable, and a fitted estimator must
    pickle. Each parameter group is scaled from its own rate (``lr_groups``:
    a group at 0 stays at 0). The position in the schedule is the number of
    epochs in the net's history, so a continued fit (``warm_start``,
    ``partial_fit``) goes on annealing instead of restarting; past
    ``epochs`` the rates stay at 0. With ``restart=True`` each training
    anneals anew over ``epochs``, counted from the epochs it starts with.
    """

    def __init__(self, lr, epochs, restart=False):
        self.lr = lr
        self.epochs = epochs
        self.restart = restart

    def on_train_begin(self, net, **kwargs):
        # The estimator's current rates (lr, lr_groups), set by the net's
        # builder, are the peaks.
        self.base_ = [group["lr"] for group in net.optimizer_.param_groups]
        self.start_ = len(net.history) if self.restart else 0
        self._set(net, self._factor(len(net.history) - self.start_))

    def on_epoch_end(self, net, **kwargs):
        self._set(net, self._factor(len(net.history) - self.start_))

    def _factor(self, done):
        if not self.epochs:
            return 1.0  # max_epochs=0: nothing to anneal
        done = min(done, self.epochs)
        return (1 + math.cos(math.pi * done / self.epochs)) / 2

    def _set(self, net, factor):
        groups = net.optimizer_.param_groups
        for group, base in zip(groups, self.base_, strict=True):
            group["lr"] = base * factor


class TransferScoring(Callback):
    """Score the embedding of held-out classes at the end of each epoch.

    Records ``valid_precision_at_1`` (every held-out sample queries the
    others) and ``valid_one_shot_accuracy`` (N-way 1-shot episodes, the same
    episodes every epoch, N the smaller of 5 and the held-out classes).
    """

    def __init__(self, data, distance, n_episodes=200, seed=0):
        self.data = data
        self.distance = distance
        self.n_episodes = n_episodes
        self.seed = seed

    def on_epoch_end(self, net, **kwargs):
        with evaluating(net.module_):
            E = torch.cat([net.infer(x).float().cpu() for x, _ in
                           Batches(self.data, 1024)]).numpy()
        y = self.data.y.numpy()
        n_way = int(min(5, (np.bincount(y) >= 2).sum()))
        net.history.record("valid_precision_at_1", _scores.retrieval_scores(
            E, y, distance=self.distance)["precision_at_1"])
        net.history.record("valid_one_shot_accuracy", _scores.n_way_k_shot_accuracy(
            None, E, y, n_way=n_way, k_shot=1, n_episodes=self.n_episodes,
            distance=self.distance, random_state=self.seed))

    def on_train_end(self, net, **kwargs):
        # The fitted estimator keeps no copy of its validation rows.
        self.data = None


# Rows of a batch that the mining diagnostics count (n**3 triplet entries):
# a few classes of samples_per_class rows show it, at a cost well below a
# training step's.
_MINING_ROWS = 64
# Training batches an epoch that they count, evenly spread: an epoch's mean
# needs no more, and large data sets then pay nothing noticeable.
_MINING_BATCHES = 16


class MiningDiagnostics(Callback):
    """Record per epoch what shows whether in-batch mining still finds work.

    From each training batch's embeddings and class labels, under no
    gradient: ``train_pos_distance`` and ``train_neg_distance``, the mean
    distance of same-class and of different-class pairs, and
    ``train_active_fraction``, the fraction of the loss's candidates that
    still cost something: for the triplet loss, of the in-batch triplets
    (anchor, positive, negative) with ``d(a, n) < d(a, p) + margin``; for
    the contrastive loss, of the different-class pairs closer than
    ``margin``. Near 0, the margin is met almost everywhere and training
    has little left to learn from; pytorch-metric-learning's miners report
    the same count. ``loss=None`` (a loss brought by the user) records the
    distances only. Batches of more than 64 rows are counted on their
    first 64 (16 classes of 4 rows, by default), and at most 16 batches
    of an epoch, evenly spread, are counted. The epoch's value is the mean
    over the batches counted.
    """

    def __init__(self, loss, margin, distance):
        self.loss = loss
        self.margin = margin
        self.distance = distance

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.sums_, self.counts_, self.seen_ = None, None, 0
        batches = math.ceil(len(dataset_train) / net.batch_size) if (
            dataset_train is not None) else 1
        self.stride_ = max(1, math.ceil(batches / _MINING_BATCHES))

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if not training or not isinstance(y_pred, torch.Tensor) or y_pred.ndim != 2:
            return
        self.seen_ += 1
        if (self.seen_ - 1) % self.stride_:
            return
        labels = batch[1][:_MINING_ROWS].to(y_pred.device)
        with torch.no_grad():
            stats = self._stats(y_pred[:_MINING_ROWS].detach().float(), labels)
        # A batch without (say) a negative pair counts for the others only.
        known = ~torch.isnan(stats)
        stats = torch.nan_to_num(stats)
        if self.sums_ is None:
            self.sums_, self.counts_ = stats, known.float()
        else:
            self.sums_, self.counts_ = self.sums_ + stats, self.counts_ + known

    def _stats(self, Z, labels):
        d = _distances.pairwise_distances(Z, distance=self.distance)
        same = labels[:, None] == labels[None, :]
        pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=Z.device)
        neg = ~same
        nan = torch.tensor(float("nan"), device=Z.device)
        # Masked sums, no boolean indexing: that costs more than the counts.
        pos, neg = pos.float(), neg.float()
        n_pos, n_neg = pos.sum(), neg.sum()
        pos_d = (d * pos).sum() / n_pos if n_pos else nan
        neg_d = (d * neg).sum() / n_neg if n_neg else nan
        active = nan
        if self.loss == "contrastive" and n_neg:
            active = ((d < self.margin).float() * neg).sum() / n_neg
        elif self.loss == "triplet":
            # Per anchor a and positive p, the negatives q with d(a, q) <
            # d(a, p) + margin: a search in a's sorted negative distances
            # (n**2 log n, where the n**3 triplets cost a training step's).
            counted = (pos.sum(1) * neg.sum(1)).sum()
            if counted:
                negatives = torch.where(neg > 0, d, torch.inf).sort(dim=1).values
                inside = torch.searchsorted(negatives, d + self.margin)
                active = (inside * pos).sum() / counted
        return torch.stack([pos_d, neg_d, active])

    def on_epoch_end(self, net, **kwargs):
        if self.sums_ is None:
            return
        means = (self.sums_ / self.counts_).tolist()  # nan where never known
        keys = ("train_pos_distance", "train_neg_distance", "train_active_fraction")
        for key, value in zip(keys, means, strict=True):
            if not math.isnan(value):
                net.history.record(key, value)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class PlainPrintLog(PrintLog):
    """skorch's per-epoch table without its colour codes.

    skorch colours each column's best value for a terminal; written to a
    file or a pipe, the codes only clutter the text.
    """

    def format_row(self, row, key, color):
        value = super().format_row(row, key, color)
        return _ANSI.sub("", value) if isinstance(value, str) else value


def print_log():
    """skorch's ``PrintLog`` where the output is a terminal, else without colour."""
    isatty = getattr(sys.stdout, "isatty", None)
    return PrintLog() if callable(isatty) and isatty() else PlainPrintLog()


def default_callbacks(verbose, extra, own=()):
    """The package's callbacks (``own`` after the first), then the user's copies."""
    callbacks = [("keep_last_finite", KeepLastFinite()), *own]
    if verbose and verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    return callbacks + list(copy.deepcopy(extra or []))
