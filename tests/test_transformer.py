import pickle
import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback, ProgressBar

from sksiamese import SiameseTransformer
from sksiamese.losses import TripletLoss


def small(**params):
    defaults = {"max_epochs": 2, "batch_size": 32, "random_state": 0}
    return SiameseTransformer(**{**defaults, **params})


# The settings under which training can blow up or collapse (the defaults of
# earlier versions): unbounded contrastive costs on a narrower network.
FRAGILE = {"loss": "contrastive", "miner": "all", "margin": 1.0, "n_components": 16,
           "normalize": False, "lr_schedule": None,
           "encoder_params": {"hidden_layer_sizes": (128, 128)}}
# A constant learning rate: the first epochs of a longer fit are then those of
# a shorter one (the "auto" cosine schedule of the MLP spans each fit).
CONSTANT = {"lr_schedule": None}


# scikit-learn's checks, clone, pickle and seeds: tests/test_common.py.


def test_fit_transform_shape_dtype_and_string_labels(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six",
                      "seven", "eight", "nine"])
    est = small(n_components=5).fit(X[:300], names[y[:300]])
    Z = est.transform(X[300:400])
    assert Z.shape == (100, 5) and Z.dtype == np.float32
    assert list(est.classes_) == sorted(names)
    assert est.n_components_ == 5 and est.n_features_in_ == 64
    assert len(est.history_) == 2
    assert est.history_[-1, "train_loss"] < est.history_[0, "train_loss"]


@pytest.mark.slow
def test_pipeline_reaches_095_on_digits_with_defaults():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    pipe = make_pipeline(
        StandardScaler(),
        SiameseTransformer(random_state=0),
        KNeighborsClassifier(n_neighbors=1),
    )
    assert pipe.fit(X_train, y_train).score(X_test, y_test) >= 0.95


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search(digits, n_jobs):
    X, y = digits
    grid = GridSearchCV(
        make_pipeline(small(max_epochs=1), KNeighborsClassifier(1)),
        {
            "siamesetransformer__margin": [0.5, 2.0],
            "siamesetransformer__optimizer": ["adam", "sgd"],
            "siamesetransformer__lr": [1e-3, 1e-2],
        },
        cv=2,
        n_jobs=n_jobs,
    )
    grid.fit(X[:300], y[:300])
    assert len(grid.cv_results_["params"]) == 8
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.best_score_ > 0.5


def test_grid_search_scores_are_the_same_in_threads(digits):
    from joblib import parallel_config

    X, y = digits[0][:300], digits[1][:300]
    params = {"siamesetransformer__margin": [0.5, 2.0],
              "siamesetransformer__encoder_params": [{"dropout": 0.3}]}

    def scores(n_jobs):
        grid = GridSearchCV(make_pipeline(small(max_epochs=1), KNeighborsClassifier(1)),
                            params, cv=2, n_jobs=n_jobs)
        return grid.fit(X, y).cv_results_["mean_test_score"]

    sequential = scores(1)
    with parallel_config(backend="threading"):
        np.testing.assert_array_equal(scores(2), sequential)


def test_set_output_pandas_and_feature_names(digits):
    pd = pytest.importorskip("pandas")
    X, y = digits
    frame = pd.DataFrame(X[:200], columns=[f"px{i}" for i in range(64)])
    est = small(n_components=3).set_output(transform="pandas").fit(frame, y[:200])
    out = est.transform(frame)
    assert list(out.columns) == ["siamesetransformer0", "siamesetransformer1",
                                 "siamesetransformer2"]
    assert list(est.feature_names_in_) == list(frame.columns)
    assert list(est.get_feature_names_out()) == list(out.columns)


class RecordBatches(Callback):
    def on_train_begin(self, net, **kwargs):
        self.batches = []

    def on_batch_begin(self, net, batch=None, **kwargs):
        self.batches.append(batch[1].clone())


def test_batches_are_class_balanced_and_cover_each_row_once(digits):
    X, y = digits
    est = small(max_epochs=1, batch_size=40, samples_per_class=4,
                callbacks=[("rec", RecordBatches())]).fit(X[:500], y[:500])
    batches = dict(est.net_.callbacks_)["rec"].batches
    assert sum(len(b) for b in batches) == 500
    assert np.array_equal(
        np.sort(np.concatenate([b.numpy() for b in batches])),
        np.sort(np.searchsorted(est.classes_, y[:500])),
    )
    for labels in batches:
        counts = np.bincount(labels.numpy())
        # Groups of K=4 rows per class (a class's last group may have 2 to 5);
        # a batch takes whole groups, so it is within one group of batch_size.
        assert counts.max() >= 2
        assert abs(len(labels) - 40) < 5 or labels is batches[-1]


def test_single_sample_classes_serve_as_negatives(digits):
    X, y = digits
    X_fit = np.vstack([X[y == 0][:10], X[y == 1][:1], X[y == 2][:1]])
    y_fit = np.array([0] * 10 + [1, 2])
    est = small().fit(X_fit, y_fit)
    assert est.transform(X_fit).shape == (12, 64)


BAD_INPUT = [
    ("nan", lambda X, y: (np.where(X == X.max(), np.nan, X), y),
     "Input X contains NaN"),
    ("inf", lambda X, y: (np.where(X == X.max(), np.inf, X), y),
     "Input X contains infinity"),
    ("empty", lambda X, y: (X[:0], y[:0]),
     r"Found array with 0 sample\(s\)"),
    ("one class", lambda X, y: (X[:20], np.zeros(20)),
     re.escape("SiameseTransformer needs at least 2 classes in y to learn what "
               "tells them apart; got 1 class (np.float64(0.0)).")),
    ("lengths", lambda X, y: (X[:20], y[:19]),
     "Found input variables with inconsistent numbers of samples: \\[20, 19\\]"),
    ("3-D X", lambda X, y: (X[:20].reshape(20, 8, 8), y[:20]),
     re.escape("encoder='mlp' expects 2-D X of shape (n_samples, n_features); "
               "got shape (20, 8, 8).")),
    ("no pairs", lambda X, y: (X[:10], np.arange(10)),
     "Every class in y has a single sample, so there is no pair of the same "
     "class to learn from"),
    ("continuous y", lambda X, y: (X[:20], np.linspace(0, 1, 20)),
     "Unknown label type: continuous"),
]


@pytest.mark.parametrize("name, corrupt, message", BAD_INPUT,
                         ids=[b[0] for b in BAD_INPUT])
def test_bad_input_raises_clear_value_error(digits, name, corrupt, message):
    X, y = corrupt(*digits)
    with pytest.raises(ValueError, match=message):
        small().fit(X, y)


BAD_PARAMS = [
    ({"margin": -1.0}, "The 'margin' parameter of SiameseTransformer must be a "
     "float in the range \\(0.0, inf\\) or a str among {'auto'}. Got -1.0 "
     "instead."),
    ({"n_components": 0}, "The 'n_components' parameter of SiameseTransformer "
     "must be an int in the range \\[1, inf\\) or a str among "
     "{'auto'}. Got 0 instead."),
    ({"loss": "hinge"}, "The 'loss' parameter of SiameseTransformer must be a "
     "str among {'(contrastive|triplet)', '(contrastive|triplet)'} or a callable. "
     "Got 'hinge' instead."),
    ({"optimizer": "lbfgs"}, "The 'optimizer' parameter of SiameseTransformer "
     "must be a str among"),
    ({"optimizer": int}, "optimizer must be one of 'adam', 'adamw', 'sgd', "
     "'rmsprop' or a torch.optim.Optimizer class; got <class 'int'>."),
    ({"encoder": "transformer"}, "The 'encoder' parameter of SiameseTransformer "
     "must be a str among"),
]


@pytest.mark.parametrize("params, message", BAD_PARAMS)
def test_bad_parameters_raise_value_error(digits, params, message):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        small(**params).fit(X[:50], y[:50])


def test_transform_checks_fitted_and_width(digits):
    X, y = digits
    with pytest.raises(NotFittedError):
        small().transform(X)
    est = small().fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="X has 10 features, but SiameseTransformer "
                       "is expecting 64 features as input"):
        est.transform(X[:5, :10])


@pytest.mark.parametrize("loss", ["contrastive", "triplet", TripletLoss(margin=0.5)])
@pytest.mark.parametrize("miner", ["all", "hard", "semi-hard"])
def test_losses_and_miners_train(digits, loss, miner):
    X, y = digits
    est = small(loss=loss, miner=miner, max_epochs=3).fit(X[:400], y[:400])
    losses = est.history_[:, "train_loss"]
    assert np.isfinite(losses).all()
    assert np.isfinite(est.transform(X[:20])).all()


def test_cosine_distance_and_optimizer_class(digits):
    X, y = digits
    est = small(distance="cosine", margin=0.5, optimizer=torch.optim.RMSprop)
    est.fit(X[:300], y[:300])
    assert isinstance(est.net_.optimizer_, torch.optim.RMSprop)
    assert np.isfinite(est.transform(X[:10])).all()


class TinyEncoder(torch.nn.Module):
    def __init__(self, n_features, n_components, hidden=8):
        super().__init__()
        self.hidden = hidden
        self.net = torch.nn.Sequential(torch.nn.Linear(n_features, hidden),
                                       torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, n_components))

    def forward(self, x):
        return self.net(x)


def test_encoder_module_class_and_instance(digits):
    X, y = digits
    est = small(encoder=TinyEncoder, encoder_params={"hidden": 5}, n_components=3)
    est.fit(X[:200], y[:200])
    assert est.net_.module_.hidden == 5
    assert est.get_params()["encoder_params"] == {"hidden": 5}
    est.set_params(encoder_params={"hidden": 7}).fit(X[:200], y[:200])
    assert est.net_.module_.hidden == 7

    instance = TinyEncoder(64, 4)
    before = [p.detach().clone() for p in instance.parameters()]
    a = small(encoder=instance).fit(X[:200], y[:200]).transform(X[:10])
    b = small(encoder=instance).fit(X[:200], y[:200]).transform(X[:10])
    np.testing.assert_array_equal(a, b)  # re-initialised from random_state
    for p, q in zip(before, instance.parameters(), strict=True):
        assert torch.equal(p, q)  # the user's module is not trained in place
    with pytest.raises(ValueError, match="encoder_params cannot be used with an "
                       "encoder instance"):
        small(encoder=instance, encoder_params={"hidden": 3}).fit(X[:50], y[:50])


def test_verbose_prints_epochs_and_is_silent_by_default(digits, capsys):
    X, y = digits
    small().fit(X[:200], y[:200])
    assert capsys.readouterr().out == ""
    small(verbose=1).fit(X[:200], y[:200])
    out = capsys.readouterr().out
    assert "train_loss" in out and re.search(r"^\s+2\s", out, re.MULTILINE)


def test_progress_bar_through_callbacks(digits, capsys):
    X, y = digits
    est = small(callbacks=[ProgressBar()]).fit(X[:200], y[:200])
    assert any(isinstance(cb, ProgressBar) for _, cb in est.net_.callbacks_)
    # One tqdm bar per epoch, over ceil(200 / 32) = 7 batches.
    assert capsys.readouterr().err.count("0/7 [") == 2


def test_divergence_stops_with_message_and_finite_weights(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match=r"training diverged \(the loss "
                      r"became nan in epoch 1\); the initial weights were kept\. "
                      r"Try a smaller lr \(now 1000000.0\)"):
        est = small(optimizer="sgd", lr=1e6, **FRAGILE).fit(X[:300], y[:300])
    assert np.isfinite(est.transform(X)).all()
    assert len(est.history_) == 0


class ExplodeAfter(Callback):
    """Set an absurd learning rate once ``epoch`` epochs have finished."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            for group in net.optimizer_.param_groups:
                group["lr"] = 1e8


def test_divergence_keeps_the_last_finite_epoch(digits):
    X, y = digits
    reference = small(optimizer="sgd", max_epochs=2, **FRAGILE).fit(X[:300], y[:300])
    with pytest.warns(ConvergenceWarning, match="the weights after epoch 2 were kept"):
        est = small(optimizer="sgd", max_epochs=6, callbacks=[ExplodeAfter(2)],
                    **FRAGILE).fit(X[:300], y[:300])
    assert len(est.history_) == 2
    np.testing.assert_array_equal(est.transform(X), reference.transform(X))


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_device_auto_resolves(digits, device):
    X, y = digits
    est = small(device=device).fit(X[:100], y[:100])
    expected = "cuda" if device == "auto" and torch.cuda.is_available() else "cpu"
    assert est.net_.device == expected


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_returns_host_numpy_and_unpickles(digits):
    X, y = digits
    est = small(device="cuda").fit(X[:300], y[:300])
    Z = est.transform(X[:10])
    assert isinstance(Z, np.ndarray) and Z.dtype == np.float32
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(restored.transform(X[:10]), Z, atol=1e-5)


def test_collapse_is_reported(digits):
    X, y = digits
    # Batch-hard triplets with a high learning rate: the known failure where all
    # embeddings meet at one point and the loss sticks at the margin.
    collapsing = small(**{**FRAGILE, "loss": "triplet", "miner": "hard",
                          "margin": 0.2}, lr=1.0, optimizer="sgd", batch_size=128,
                       max_epochs=15)
    with pytest.warns(ConvergenceWarning, match=r"the embeddings collapsed: 256 "
                      r"training samples lie within .* of one point \(the margin "
                      r"is 0.2\).*too high a learning rate \(lr=1.0\)"):
        collapsing.fit(X, y)
    assert collapsing.history_[-1, "train_loss"] == pytest.approx(0.2, abs=0.01)


def test_healthy_fit_gives_no_warning(digits):
    X, y = digits
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small().fit(X[:300], y[:300])


def test_warm_start_and_partial_fit_continue_training(digits):
    X, y = digits
    est = small(max_epochs=2, warm_start=True).fit(X[:300], y[:300])
    # The MLP's embeddings are normalised by default: its layers are the
    # NormalizedEncoder's encoder.
    first = est.net_.module_.state_dict()["encoder.layers.0.weight"].clone()
    est.fit(X[:300], y[:300])
    assert len(est.history_) == 4
    assert not torch.equal(first,
                           est.net_.module_.state_dict()["encoder.layers.0.weight"])
    est.partial_fit(X[300:600], y[300:600])
    assert len(est.history_) == 5

    # Same seed, same sequence of calls, same result.
    again = small(max_epochs=2, warm_start=True).fit(X[:300], y[:300])
    again.fit(X[:300], y[:300]).partial_fit(X[300:600], y[300:600])
    np.testing.assert_array_equal(again.transform(X[:20]), est.transform(X[:20]))

    cold = small(max_epochs=2).fit(X[:300], y[:300]).fit(X[:300], y[:300])
    assert len(cold.history_) == 2
    fresh = small().partial_fit(X[:300], y[:300])
    assert len(fresh.history_) == 1
    with pytest.raises(ValueError, match="X has 10 features, but SiameseTransformer "
                       "is expecting 64 features"):
        est.partial_fit(X[:50, :10], y[:50])


class InterruptInEpoch(Callback):
    """Press Ctrl-C in the middle of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, **kwargs):
        if len(net.history) == self.epoch and len(net.history[-1]["batches"]) == 3:
            raise KeyboardInterrupt


def test_interrupted_fit_keeps_last_finished_epoch(digits):
    X, y = digits
    reference = small(max_epochs=2, **CONSTANT).fit(X[:400], y[:400])
    with pytest.warns(UserWarning, match="training was interrupted in epoch 3; "
                      "the weights after epoch 2 were kept"):
        est = small(max_epochs=5, callbacks=[InterruptInEpoch(3)],
                    **CONSTANT).fit(X[:400], y[:400])
    assert len(est.history_) == 2
    np.testing.assert_array_equal(est.transform(X), reference.transform(X))


def test_checkpoint_and_load_init_state_resume(digits, tmp_path):
    from skorch.callbacks import Checkpoint, LoadInitState

    X, y = digits
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    first = small(max_epochs=2, callbacks=[checkpoint]).fit(X[:300], y[:300])
    resumed = small(max_epochs=1, callbacks=[
        Checkpoint(dirname=str(tmp_path), monitor=None),
        LoadInitState(Checkpoint(dirname=str(tmp_path), monitor=None)),
    ]).fit(X[:300], y[:300])
    # The resumed run starts from the checkpoint: its history continues it.
    assert len(resumed.history_) == len(first.history_) + 1


# -- reliability: threads, continued fits, failures, bad modules and losses -------
def _weights(est):
    return [p.detach().clone() for p in est.net_.module_.parameters()]


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_warm_start_uses_the_current_parameters(digits):
    X, y = digits[0][:300], digits[1][:300]
    est = small(max_epochs=3, **CONSTANT).fit(X, y)
    est.set_params(warm_start=True, max_epochs=1, lr=0.5, batch_size=64)
    est.fit(X, y)
    assert len(est.history_) == 4
    assert est.net_.optimizer_.param_groups[0]["lr"] == 0.5
    assert est.net_.batch_size == 64
    est.set_params(loss="triplet", margin=0.3).fit(X, y)
    assert isinstance(est.net_.criterion_, TripletLoss)
    assert est.net_.criterion_.margin == 0.3 and len(est.history_) == 5


def test_warm_start_refuses_a_changed_architecture(digits):
    X, y = digits[0][:300], digits[1][:300]
    est = small().fit(X, y)
    before = _weights(est)
    est.set_params(warm_start=True, n_components=3)
    with pytest.raises(ValueError, match=re.escape(
            "warm_start continues training the fitted network, but n_components "
            "changed since it was built")):
        est.fit(X, y)
    assert _same_weights(_weights(est), before)


def test_warm_start_is_deterministic(digits):
    X, y = digits[0][:300], digits[1][:300]
    runs = []
    for _ in range(2):
        est = small().fit(X, y)
        est.set_params(warm_start=True, lr=0.01).fit(X, y)
        runs.append(_weights(est))
    assert _same_weights(*runs)


class _FailsInEpoch(Callback):
    def __init__(self, epoch=2):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise RuntimeError("callback failed")


def test_a_fit_that_raises_leaves_the_estimator_as_it_was(digits):
    X, y = digits[0][:300], digits[1][:300]
    est = small(callbacks=[_FailsInEpoch()])
    with pytest.raises(RuntimeError, match="callback failed"):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.transform(X)
    assert not hasattr(est, "n_features_in_")

    est = small().fit(X, y)
    before, Z = _weights(est), est.transform(X)
    est.set_params(warm_start=True, callbacks=[_FailsInEpoch(epoch=3)])
    with pytest.raises(RuntimeError, match="callback failed"):
        est.fit(X, y)
    assert len(est.history_) == 2 and _same_weights(_weights(est), before)
    np.testing.assert_array_equal(est.transform(X), Z)
    # A new fit on other data that fails keeps the model fitted before.
    est.set_params(warm_start=False, callbacks=[_FailsInEpoch(epoch=1)])
    with pytest.raises(RuntimeError, match="callback failed"):
        est.fit(X[:, :10], y)
    assert est.n_features_in_ == 64
    np.testing.assert_array_equal(est.transform(X), Z)


def test_divergence_never_keeps_non_finite_weights(digits):
    X, y = digits[0][:300], digits[1][:300]
    est = SiameseTransformer(optimizer="sgd", lr=1e6, max_epochs=3,
                             batch_size=10**6, random_state=0, **FRAGILE)
    with pytest.warns(ConvergenceWarning, match="training diverged"):
        est.fit(X, y)
    assert all(torch.isfinite(p).all() for p in est.net_.module_.parameters())
    assert np.isfinite(est.transform(X)).all()


@pytest.mark.parametrize("params, message", [
    ({"encoder_params": {"hidden_layer_sizes": (0,)}},
     "hidden_layer_sizes must be a tuple of positive ints"),
    ({"encoder_params": {"hidden_layer_sizes": (-4,)}},
     "hidden_layer_sizes must be a tuple of positive ints"),
    ({"encoder_params": {"dropout": 1.0}}, re.escape("dropout must be in [0, 1)")),
    ({"input_shape": (8, 8)},
     re.escape("encoder='mlp' expects 2-D X of shape (n_samples, n_features)")),
    ({"device": "cuda:0" if not torch.cuda.is_available() else "cuda:999"},
     "device='cuda:.*' (asks for a GPU|names GPU)"),
    ({"device": "nonsense"}, "device='nonsense' is not a device torch knows"),
])
def test_bad_encoder_settings_raise_clear_errors(digits, params, message):
    X, y = digits[0][:100], digits[1][:100]
    with pytest.raises(ValueError, match=message):
        small(**params).fit(X, y)


class _Returns(torch.nn.Module):
    def __init__(self, n_features, n_components, kind="tuple"):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_components)
        self.kind = kind

    def forward(self, x):
        z = self.linear(x)
        return {"tuple": (z, z), "numpy": z.detach().numpy(),
                "int": z.long(), "3d": z[:, None, :]}[self.kind]


@pytest.mark.parametrize("kind, message", [
    ("tuple", "The encoder's forward returned a tuple, not a torch tensor"),
    ("numpy", "The encoder's forward returned a ndarray, not a torch tensor"),
    ("int", "returned a tensor of dtype torch.int64; embeddings must be floating"),
    ("3d", r"returned a tensor of shape \(\d+, 1, 64\); embeddings must have "
           r"shape \(batch, n_components\)"),
])
def test_encoder_outputs_are_checked(digits, kind, message):
    X, y = digits[0][:100], digits[1][:100]
    with pytest.raises(ValueError, match=message):
        small(encoder=_Returns, encoder_params={"kind": kind}).fit(X, y)


@pytest.mark.parametrize("loss, message", [
    (lambda e, labels: (e * e).sum(dim=1),
     re.escape("it must return a scalar: reduce it")),
    (lambda e, labels: 1.0, "The loss returned float 1.0, not a torch tensor"),
    (lambda e, labels: None, "The loss returned NoneType None, not a torch tensor"),
    (lambda e, labels: (e * e).sum().detach(),
     "The loss returned a tensor with no gradient"),
])
def test_bad_loss_outputs_are_checked(digits, loss, message):
    X, y = digits[0][:100], digits[1][:100]
    with pytest.raises(ValueError, match=message):
        small(loss=loss).fit(X, y)


def _mean_square(embeddings, labels, scale=1.0):
    return scale * (embeddings * embeddings).mean()


@pytest.mark.parametrize("loss", [
    _mean_square,
    __import__("functools").partial(_mean_square, scale=2.0),
    lambda e, labels: TripletLoss()(e, labels),
], ids=["function", "partial", "lambda"])
def test_plain_callable_losses_train(digits, loss):
    X, y = digits[0][:100], digits[1][:100]
    est = small(loss=loss).fit(X, y)
    assert np.isfinite(est.history_[:, "train_loss"]).all()
    assert est.transform(X).shape == (100, 64)


# -- transfer: held-out classes, early stopping, augmentation, schedule ---------
def test_validation_on_held_out_classes_records_transfer_scores(digits):
    X, y = digits[0][:400], digits[1][:400]
    est = small(max_epochs=3, validation_fraction=0.3).fit(X, y)
    keys = est.history_[-1].keys()
    assert {"valid_loss", "valid_precision_at_1", "valid_one_shot_accuracy"} <= keys
    scores = est.history_[:, "valid_precision_at_1"]
    assert all(0 <= s <= 1 for s in scores) and est.best_epoch_ in (1, 2, 3)
    # The fitted net keeps no reference to the held-out rows.
    assert est.net_.train_split is None
    assert dict(est.net_.callbacks_)["transfer_scoring"].data is None


def test_validation_leaves_a_fit_without_it_unchanged(digits):
    X, y = digits[0][:300], digits[1][:300]
    a, b = small().fit(X, y), small(validation_fraction=None).fit(X, y)
    assert _same_weights(_weights(a), _weights(b))


def test_skorch_callbacks_that_need_valid_loss_work(digits):
    from skorch.callbacks import Checkpoint, EarlyStopping, LRScheduler

    X, y = digits[0][:300], digits[1][:300]
    est = small(max_epochs=3, validation_fraction=0.3, callbacks=[
        EarlyStopping(), Checkpoint(dirname=None, f_params=None, f_optimizer=None,
                                    f_criterion=None, f_history=None,
                                    f_pickle=None, load_best=False),
        LRScheduler("ReduceLROnPlateau")]).fit(X, y)
    assert len(est.history_) == 3
    # Without held-out classes valid_loss is never recorded: refused before
    # training (skorch itself would fail with a KeyError after an epoch).
    with pytest.raises(ValueError, match="EarlyStopping monitors 'valid_loss'"):
        small(max_epochs=1, callbacks=[EarlyStopping(patience=1)]).fit(X, y)


@pytest.mark.parametrize("fraction", [0.05, 0.95])
def test_validation_fraction_needs_two_classes_each_side(digits, fraction):
    X, y = digits[0][:200], digits[1][:200]
    with pytest.raises(ValueError, match=re.escape(
            f"validation_fraction={fraction} holds out")):
        small(validation_fraction=fraction).fit(X, y)


def test_early_stopping_needs_validation(digits):
    with pytest.raises(ValueError, match="early_stopping=True stops when the held"):
        small(early_stopping=True).fit(*digits)


def test_early_stopping_keeps_the_best_epoch_bit_for_bit(digits):
    # A high learning rate on few classes overfits them: the held-out score
    # peaks early; the stopped fit must end with that epoch's weights.
    X, y = digits[0][:400], digits[1][:400]
    params = {"validation_fraction": 0.4, "lr": 0.05, "batch_size": 32}
    est = small(max_epochs=12, early_stopping=True, n_iter_no_change=2,
                **params).fit(X, y)
    best = est.best_epoch_
    scores = est.history_[:, "valid_precision_at_1"]
    assert best == int(np.argmax(scores)) + 1
    assert len(est.history_) == best + 2 or len(est.history_) == 12
    reference = small(max_epochs=best, **params).fit(X, y)
    assert _same_weights(_weights(est), _weights(reference))


def test_normalize_gives_unit_embeddings(digits):
    X, y = digits[0][:200], digits[1][:200]
    Z = small(normalize=True, loss="triplet", margin=0.3).fit(X, y).transform(X)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1, rtol=1e-5)


def test_cosine_lr_schedule_anneals(digits):
    X, y = digits[0][:200], digits[1][:200]
    est = small(max_epochs=4, lr_schedule="cosine", lr=0.01).fit(X, y)
    assert est.net_.optimizer_.param_groups[0]["lr"] < 1e-9


def _images(n_classes=6, per_class=8, side=12, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.random((n_classes, side, side)) > 0.7
    X = np.repeat(protos, per_class, axis=0).astype(np.float32)
    X += 0.1 * rng.normal(size=X.shape).astype(np.float32)
    return X, np.repeat(np.arange(n_classes), per_class)


def test_affine_augmentation_is_seeded_and_only_in_training():
    from sksiamese.augment import RandomAffine

    X, y = _images()
    cnn = {"encoder": "cnn", "encoder_params": {"channels": (4, 4)},
           "n_components": 4, "max_epochs": 2, "batch_size": 16, "random_state": 0}
    a = SiameseTransformer(augment="affine", **cnn).fit(X, y)
    b = SiameseTransformer(augment="affine", **cnn).fit(X, y)
    plain = SiameseTransformer(augment=None, **cnn).fit(X, y)
    assert _same_weights(_weights(a), _weights(b))
    assert not _same_weights(_weights(a), _weights(plain))
    # transform is deterministic: no augmentation at inference.
    np.testing.assert_array_equal(a.transform(X), a.transform(X))
    identity = RandomAffine(degrees=0, translate=0, scale=(1, 1), shear=0)
    batch = torch.from_numpy(X[:5])
    torch.testing.assert_close(identity(batch), batch, atol=1e-5, rtol=0)
    turned = RandomAffine(degrees=90)(batch, torch.Generator().manual_seed(0))
    assert turned.shape == batch.shape and not torch.allclose(turned, batch)
    seen = []
    SiameseTransformer(augment=lambda batch: seen.append(batch.shape) or batch,
                       **cnn).fit(X, y)
    assert seen and all(s[1:] == X.shape[1:] for s in seen)


def test_bad_augmentation_is_refused(digits):
    X, y = _images()
    with pytest.raises(ValueError, match=re.escape(
            "augment='affine' distorts images, but the samples have shape (64,)")):
        small(augment="affine").fit(*digits)
    with pytest.raises(ValueError, match=re.escape(
            "augment must return a tensor of the batch's shape")):
        SiameseTransformer(encoder="cnn", augment=lambda b: b[:, :4], max_epochs=1,
                           random_state=0).fit(X, y)


# -- fine-tuning a given encoder ------------------------------------------------
class _Pretrained(torch.nn.Module):
    """A backbone and a head, with weights set by hand as if pretrained."""

    def __init__(self, n_features=64, width=3):
        super().__init__()
        self.backbone = torch.nn.Linear(n_features, 8)
        self.head = torch.nn.Linear(8, width)
        with torch.no_grad():
            for i, p in enumerate(self.parameters()):
                p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape)
                        * (i + 1))

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x)))


class _WeightsAtStart(Callback):
    def on_train_begin(self, net, **kwargs):
        self.state_ = {k: v.clone() for k, v in net.module_.state_dict().items()}


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _at_start(est):
    return dict(est.net_.callbacks_)["_WeightsAtStart"].state_


def test_encoder_init_keep_starts_from_the_given_weights(digits):
    X, y = digits
    given = _Pretrained()
    before = _state(given)
    kept = small(encoder=given, encoder_init="keep", n_components=3,
                 callbacks=[_WeightsAtStart()]).fit(X[:200], y[:200])
    start = _at_start(kept)
    assert all(torch.equal(start[k], before[k]) for k in before)
    assert not _same_state(_state(kept.net_.module_), before)
    reset = small(encoder=given, n_components=3, callbacks=[_WeightsAtStart()]).fit(
        X[:200], y[:200])
    assert not torch.equal(_at_start(reset)["backbone.weight"],
                           before["backbone.weight"])
    # The given module is never changed.
    assert _same_state(_state(given), before)


def test_frozen_prefixes_and_requires_grad_do_not_change(digits):
    X, y = digits
    given = _Pretrained()
    before = _state(given)
    est = small(encoder=given, encoder_init="keep", n_components=3,
                freeze=("backbone.",), lr=1e-2).fit(X[:200], y[:200])
    after = _state(est.net_.module_)
    assert torch.equal(after["backbone.weight"], before["backbone.weight"])
    assert torch.equal(after["backbone.bias"], before["backbone.bias"])
    assert not torch.equal(after["head.weight"], before["head.weight"])
    assert all(p.requires_grad for p in given.parameters())
    # requires_grad=False set on the instance is respected, without freeze.
    flagged = _Pretrained()
    flagged.backbone.requires_grad_(False)
    est = small(encoder=flagged, encoder_init="keep", n_components=3, lr=1e-2).fit(
        X[:200], y[:200])
    assert torch.equal(est.net_.module_.backbone.weight.detach(),
                       before["backbone.weight"])


def test_lr_groups_give_the_encoders_parts_their_own_rates(digits):
    X, y = digits
    given = _Pretrained()
    est = small(encoder=given, encoder_init="keep", n_components=3, normalize=True,
                lr_groups={"backbone.": 0.0, "backbone.bias": 0.5}).fit(
        X[:200], y[:200])
    rates = {id(p): g["lr"] for g in est.net_.optimizer_.param_groups
             for p in g["params"]}
    module = est.net_.module_.encoder
    assert rates[id(module.backbone.weight)] == 0.0
    assert rates[id(module.backbone.bias)] == 0.5
    assert rates[id(module.head.weight)] == est.net_.lr
    assert torch.equal(module.backbone.weight.detach(), given.backbone.weight.detach())
    # A continued fit keeps the rates of the groups.
    est.set_params(warm_start=True, max_epochs=1).fit(X[:200], y[:200])
    rates = [g["lr"] for g in est.net_.optimizer_.param_groups]
    assert sorted(rates) == sorted([0.0, 0.5, est.net_.lr])


@pytest.mark.parametrize("params, match", [
    ({"freeze": ("",)}, "Every parameter of the network is frozen"),
    ({"freeze": ("bakbone.",)}, "'bakbone.' starts no parameter name"),
    ({"lr_groups": {"bakbone.": 1e-5}}, "'bakbone.' starts no parameter name"),
    ({"lr_groups": {"backbone.": -1.0}}, "learning rates"),
    ({"freeze": (1,)}, "tuple of parameter-name prefixes"),
])
def test_bad_fine_tuning_settings_are_refused(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        small(encoder=_Pretrained(), encoder_init="keep", n_components=3, **params).fit(
            X[:100], y[:100])


def test_encoder_init_keep_needs_an_instance(digits):
    with pytest.raises(ValueError, match="encoder='mlp' is built anew"):
        small(encoder_init="keep").fit(*digits)


def test_n_components_that_the_instance_ignores_warns(digits):
    import warnings

    X, y = digits
    with pytest.warns(UserWarning, match="n_components=64 is not used"):
        est = small(encoder=_Pretrained(), encoder_init="keep",
                    n_components=64).fit(X[:100], y[:100])
    assert est.n_components_ == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        small(encoder=_Pretrained(), n_components=3).fit(X[:100], y[:100])
        # n_components="auto" (the default) is the instance's own width.
        est = small(encoder=_Pretrained()).fit(X[:100], y[:100])
    assert est.n_components_ == 3


def test_fine_tuning_clones_and_grid_searches(digits):
    X, y = digits
    given = _Pretrained()
    before = _state(given)
    est = small(encoder=given, encoder_init="keep", n_components=3,
                freeze=("backbone.",))
    assert clone(est).encoder is not given
    grid = GridSearchCV(est, {"lr": [1e-3, 1e-2]}, cv=2,
                        scoring=lambda e, X, y: float(np.var(e.transform(X))))
    grid.fit(X[:200], y[:200])
    assert grid.best_estimator_.encoder_init == "keep"
    assert _same_state(_state(given), before)
    assert all(p.requires_grad for p in given.parameters())


def test_warm_start_with_another_freeze_needs_a_new_network(digits):
    X, y = digits
    est = small(encoder=_Pretrained(), encoder_init="keep", n_components=3,
                freeze=("backbone.",), warm_start=True).fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="freeze changed since it was built"):
        est.set_params(freeze=None).fit(X[:100], y[:100])


# -- the "auto" settings: budget, batch size and augmentation fit the data -------
def _tiny_images(n_classes, per_class, side=12, seed=0):
    X, y = _images(n_classes, per_class, side, seed)
    return X, y


def _blank_images(n, side):
    """Training tensors of ``n`` blank images in 100 classes, for ``_plan``."""
    return torch.zeros(n, side, side), torch.arange(n) % 100


@pytest.mark.parametrize("n_rows, expected", [(48, 12), (200, 52), (600, 64)])
def test_auto_batch_size_is_64_rows_for_the_mlp_or_a_quarter_of_the_rows(
        digits, n_rows, expected):
    X, y = digits[0][:n_rows], digits[1][:n_rows]
    est = SiameseTransformer(batch_size="auto", max_epochs=1,
                             encoder_params={"hidden_layer_sizes": (8,)},
                             random_state=0).fit(X, y)
    # Whole groups of samples_per_class=4, at least two of them.
    assert est.batch_size_ == expected == est.net_.batch_size
    assert est.batch_size_ % 4 == 0
    assert est.auto_choices_["batch_size"].startswith(f"{expected}:")
    assert "max_epochs" not in est.auto_choices_ and est.n_epochs_ == 1


def test_auto_max_epochs_trains_1000_steps_with_augmentation_else_20_epochs():
    X, y = _tiny_images(4, 6, side=8)
    cnn = SiameseTransformer(encoder="cnn", encoder_params={"channels": (2,)},
                             n_components=2, random_state=0).fit(X, y)
    # 24 images in batches of 8 (a quarter, rounded to whole groups of 4):
    # 3 steps an epoch, 334 epochs for 1,000 steps.
    assert cnn.batch_size_ == 8 and cnn.n_epochs_ == 334
    assert len(cnn.history_) == 334
    assert "1000 optimizer steps" in cnn.auto_choices_["max_epochs"]
    # On a large set the floor of 20 epochs decides: 128-row batches of
    # 9,600 images are 75 steps an epoch.
    big = clone(cnn)
    big.sample_shape_ = (8, 8)
    big._plan(*_blank_images(9_600, 8))
    assert (big.batch_size_, big.n_epochs_) == (128, 20)
    big._plan(*_blank_images(3_200, 8))
    assert big.n_epochs_ == 40
    # Without augmentation (flat rows), 20 epochs.
    mlp = SiameseTransformer(encoder_params={"hidden_layer_sizes": (8,)},
                             n_components=4, random_state=0).fit(X.reshape(24, -1), y)
    assert mlp.n_epochs_ == 20 and len(mlp.history_) == 20
    assert mlp.auto_choices_["max_epochs"].startswith("20: 20 epochs, as training "
                                                      "without augmentation")


def test_auto_augment_is_affine_for_the_cnn_on_small_image_sets():
    from sksiamese.augment import RandomAffine

    X, y = _tiny_images(4, 6)
    cnn = SiameseTransformer(encoder="cnn", encoder_params={"channels": (4,)},
                             n_components=4, max_epochs=1, random_state=0)
    est = clone(cnn).fit(X, y)
    assert isinstance(est.augment_, RandomAffine)
    assert est.auto_choices_["augment"].startswith("RandomAffine(")
    # Flat rows for the MLP: the choice is not taken, and says why.
    mlp = SiameseTransformer(max_epochs=1, random_state=0).fit(X.reshape(24, -1), y)
    assert mlp.augment_ is None
    assert mlp.auto_choices_["augment"].startswith("not taken: only the built-in")
    # Set by hand, augment is used as given and not recorded as a choice.
    off = clone(cnn).set_params(augment=None).fit(X, y)
    assert off.augment_ is None and "augment" not in off.auto_choices_
    # From 10,000 training images up the choice is not taken.
    big = clone(cnn)
    big.sample_shape_ = (12, 12)
    big._plan(*_blank_images(10_000, 12))
    assert big.augment_ is None
    assert big.auto_choices_["augment"] == (
        "not taken: 10000 training images (at least 10000)")


def _mirror_images(symmetric, n_classes=6, per_class=6, side=12, seed=0):
    """Classes of noisy prototypes, left-right symmetric or not."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((n_classes, side, side)) > 0.7).astype(np.float32)
    if symmetric:
        protos[..., side // 2:] = protos[..., : side // 2][..., ::-1]
    X = np.repeat(protos, per_class, axis=0)
    X += 0.1 * rng.normal(size=X.shape).astype(np.float32)
    return X, np.repeat(np.arange(n_classes), per_class)


@pytest.mark.parametrize("symmetric", [True, False])
def test_auto_augment_mirrors_images_only_where_mirrors_keep_their_class(symmetric):
    X, y = _mirror_images(symmetric)
    est = SiameseTransformer(encoder="cnn", encoder_params={"channels": (4,)},
                             n_components=4, max_epochs=1, random_state=0).fit(X, y)
    assert est.augment_.hflip is symmetric
    assert est.augment_.padding_mode == "border"
    why = est.auto_choices_["augment"]
    assert ("mirror images kept their class" in why) is symmetric
    assert why.endswith(f"flips {'from' if symmetric else 'below'} 0.8)")


def test_mirror_agreement_measures_how_mirrors_keep_their_class():
    from sksiamese.augment import mirror_agreement

    X, y = _mirror_images(True)
    assert mirror_agreement(X, y) == (1.0, 1.0, 1.0)
    X, y = _mirror_images(False)
    agreement, plain, mirrored = mirror_agreement(X, y)
    assert plain == 1.0 and mirrored < 0.5 and agreement < 0.5
    # Classes of one image cannot be recognised, and are left out; images at
    # chance level tell nothing.
    assert mirror_agreement(X[::6], y[::6])[1] == 0.0
    assert np.isnan(mirror_agreement(np.zeros((8, 4, 4)), np.arange(8) % 4)[0])
    # At most max_images, drawn with random_state.
    a = mirror_agreement(X, y, max_images=10, random_state=0)
    assert a == mirror_agreement(X, y, max_images=10, random_state=0)


def test_auto_normalize_and_schedule_are_the_mlps(digits):
    from sksiamese.encoders import NormalizedEncoder

    X, y = digits[0][:200], digits[1][:200]
    mlp = SiameseTransformer(max_epochs=3, encoder_params={"hidden_layer_sizes": (8,)},
                             random_state=0).fit(X, y)
    assert isinstance(mlp.net_.module_, NormalizedEncoder)
    np.testing.assert_allclose(np.linalg.norm(mlp.transform(X[:5]), axis=1), 1,
                               rtol=1e-5)
    assert mlp.lr_schedule_ == "cosine"
    assert mlp.auto_choices_["lr_schedule"].startswith("cosine: lr annealed to 0 "
                                                       "over the 3 epochs")
    assert mlp.auto_choices_["normalize"].startswith("True: the built-in MLP")
    # On the unit sphere the margin is 0.2.
    assert mlp.net_.criterion_.margin == 0.2
    assert mlp.auto_choices_["margin"].startswith("0.2: the embeddings are normalised")
    assert mlp.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0)
    # A warm start anneals anew over its own epochs, from lr.
    mlp.set_params(warm_start=True, max_epochs=2, callbacks=[LRRecorder()]).fit(X, y)
    assert mlp.history_[3:, "lr0"] == pytest.approx([1e-3, 5e-4])
    # partial_fit has no budget to anneal over: lr throughout.
    mlp.partial_fit(X, y)
    assert mlp.lr_schedule_ is None and mlp.history_[-1, "lr0"] == 1e-3
    assert mlp.auto_choices_["lr_schedule"].startswith("None: partial_fit")
    # Set by hand, the values are used and not recorded as choices.
    plain = SiameseTransformer(max_epochs=1, normalize=False, lr_schedule=None,
                               encoder_params={"hidden_layer_sizes": (8,)},
                               random_state=0).fit(X, y)
    assert not isinstance(plain.net_.module_, NormalizedEncoder)
    assert {"normalize", "lr_schedule"}.isdisjoint(plain.auto_choices_)
    assert plain.net_.criterion_.margin == 0.5
    # A 2-D embedding (for a plot) stays off the unit circle.
    flat2 = SiameseTransformer(n_components=2, max_epochs=1, random_state=0,
                               encoder_params={"hidden_layer_sizes": (8,)}).fit(X, y)
    assert not isinstance(flat2.net_.module_, NormalizedEncoder)
    assert flat2.auto_choices_["normalize"].startswith("False: only the built-in MLP's "
                                                       "embeddings of 3 or more")
    # The CNN keeps unnormalised embeddings at a constant rate.
    images, labels = _tiny_images(4, 6)
    cnn = SiameseTransformer(encoder="cnn", encoder_params={"channels": (4,)},
                             n_components=4, max_epochs=1, random_state=0)
    cnn.fit(images, labels)
    assert not isinstance(cnn.net_.module_, NormalizedEncoder)
    assert cnn.lr_schedule_ is None and cnn.net_.criterion_.margin == 0.5
    assert cnn.auto_choices_["normalize"].startswith("False")


class LRRecorder(Callback):
    """Record the first parameter group's learning rate as each epoch starts."""

    def on_epoch_begin(self, net, **kwargs):
        net.history.record("lr0", net.optimizer_.param_groups[0]["lr"])


def test_auto_settings_give_the_same_result_for_the_same_seed():
    X, y = _tiny_images(4, 6)
    params = {"encoder": "cnn", "encoder_params": {"channels": (4,)},
              "n_components": 4, "max_epochs": 3, "random_state": 0}
    a = SiameseTransformer(**params).fit(X, y)
    b = SiameseTransformer(**params).fit(X, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.auto_choices_ == b.auto_choices_


def test_partial_fit_keeps_the_plan_and_fit_makes_a_new_one(digits):
    X, y = digits[0][:200], digits[1][:200]
    est = SiameseTransformer(max_epochs=2, encoder_params={"hidden_layer_sizes": (8,)},
                             random_state=0).fit(X, y)
    assert est.batch_size_ == 52
    est.partial_fit(X[:48], y[:48])
    assert est.batch_size_ == 52 and est.net_.batch_size == 52
    # A value set by hand takes effect in the next partial_fit.
    est.set_params(batch_size=16).partial_fit(X[:48], y[:48])
    assert est.batch_size_ == 16 and est.net_.batch_size == 16
    est.set_params(batch_size="auto").fit(X[:48], y[:48])
    assert est.batch_size_ == 12


@pytest.mark.parametrize("params", [{"max_epochs": 0}, {"batch_size": 0},
                                    {"max_epochs": "Auto"}, {"augment": "on"}])
def test_a_budget_of_zero_or_an_unknown_auto_is_refused(digits, params):
    with pytest.raises(ValueError, match=next(iter(params))):
        SiameseTransformer(**params).fit(digits[0][:40], digits[1][:40])


def test_batch_size_below_samples_per_class_is_refused(digits):
    est = small(batch_size=3, samples_per_class=4)
    with pytest.raises(ValueError, match=r"batch_size=3 is below samples_per_class=4"):
        est.fit(*digits)
    assert not hasattr(est, "net_")
