"""Tests for sksiamese.encoders: the CNN and RNN encoders, and users' own modules."""

import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from sksiamese import SiameseTransformer
from sksiamese.encoders import CNNEncoder, RNNEncoder


def one_nn_accuracy(X_train, y_train, X_test, y_test):
    knn = KNeighborsClassifier(n_neighbors=1).fit(X_train, y_train)
    return knn.score(X_test, y_test)


def shifted_images(n, n_classes=6, side=16, noise=0.7, seed=0):
    """One blob image per class, seen under 1-pixel shifts and Gaussian noise.

    The prototypes are the same for every ``seed``; ``seed`` draws the shifts
    and the noise, so two seeds give a training and a held-out set.
    """
    field = np.random.default_rng(0).standard_normal((n_classes, side, side))
    for _ in range(3):
        field = (field + np.roll(field, 1, 1) + np.roll(field, -1, 1)
                 + np.roll(field, 1, 2) + np.roll(field, -1, 2)) / 5
    cut = np.quantile(field, 0.7, axis=(1, 2), keepdims=True)
    prototypes = (field > cut).astype(np.float32)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    shifts = rng.integers(-1, 2, size=(n, 2))
    X = np.stack([np.roll(prototypes[c], tuple(s), axis=(0, 1))
                  for c, s in zip(y, shifts, strict=True)])
    X = X + noise * rng.standard_normal(X.shape)
    return X.astype(np.float32), y


# The motifs share their tokens and differ only in order, so a bag of words
# cannot tell the classes apart: only a model of the sequence can.
MOTIFS = np.array([[3, 4, 5], [5, 4, 3], [4, 3, 5], [3, 5, 4]])


def motif_sequences(n, length=16, vocab_size=30, seed=0):
    """Random tokens of random length, padded with 0, with the class's motif
    at a random position."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(MOTIFS)
    X = np.zeros((n, length), dtype=np.int64)
    for row, c in zip(X, y, strict=True):
        size = rng.integers(length // 2, length + 1)
        row[:size] = rng.integers(1, vocab_size, size=size)
        start = rng.integers(0, size - MOTIFS.shape[1] + 1)
        row[start:start + MOTIFS.shape[1]] = MOTIFS[c]
    return X, y


def bag_of_words(X, vocab_size=30):
    return np.stack([np.bincount(row, minlength=vocab_size)[1:] for row in X])


# -- CNN ---------------------------------------------------------------------


def test_cnn_reaches_high_one_nn_accuracy_on_shifted_noisy_prototypes():
    X_train, y_train = shifted_images(192, seed=1)
    X_test, y_test = shifted_images(300, seed=2)
    emb = SiameseTransformer(encoder="cnn", n_components=8, batch_size=32,
                             max_epochs=6, random_state=0).fit(X_train, y_train)
    accuracy = one_nn_accuracy(emb.transform(X_train), y_train,
                               emb.transform(X_test), y_test)
    assert isinstance(emb.net_.module_, CNNEncoder)
    assert accuracy >= 0.9


def test_cnn_takes_3d_4d_and_flat_images_alike():
    X, y = shifted_images(48, side=12, seed=1)
    n = len(X)
    params = dict(encoder="cnn", n_components=4, max_epochs=2, random_state=0)
    as_3d = SiameseTransformer(**params).fit(X, y).transform(X)
    as_4d = SiameseTransformer(**params).fit(X[:, None], y).transform(X[:, None])
    flat = X.reshape(n, -1)
    as_rows = make_pipeline(
        SiameseTransformer(input_shape=(1, 12, 12), **params)
    ).fit(flat, y).transform(flat)
    assert as_3d.shape == (n, 4)
    np.testing.assert_allclose(as_4d, as_3d, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(as_rows, as_3d, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "input_shape",
    [(16, 16), (1, 16, 16), (3, 20, 24), (1, 1, 5), (1, 1, 1), (1, 105, 105)],
)
def test_cnn_embeds_images_of_any_size(input_shape):
    encoder = CNNEncoder(input_shape=input_shape, n_components=3)
    out = encoder.train()(torch.rand(2, *input_shape))
    assert out.shape == (2, 3)
    assert encoder.eval()(torch.rand(1, *input_shape)).shape == (1, 3)


@pytest.mark.parametrize("shape", [(12, 64), (12, 2, 1, 8, 8)])
def test_cnn_rejects_samples_that_are_not_images(shape):
    X = np.random.default_rng(0).random(shape)
    y = np.arange(12) % 2
    expected = (
        "encoder='cnn' expects images: X of shape (n_samples, height, width) or "
        "(n_samples, channels, height, width), or flat rows with "
        f"input_shape=(channels, height, width); got X of shape {shape}."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        SiameseTransformer(encoder="cnn", max_epochs=1).fit(X, y)


@pytest.mark.parametrize("input_shape", [(28,), (1, 1, 28, 28), (1, 0, 28), None])
def test_cnn_encoder_rejects_a_bad_input_shape(input_shape):
    with pytest.raises(ValueError, match=r"CNNEncoder needs input_shape=\(height, "
                                         r"width\) or \(channels, height, width\)"):
        CNNEncoder(input_shape=input_shape, n_components=2)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"channels": ()}, "channels must name at least one block; got ()."),
        ({"channels": (8, 0)}, "each entry of channels must be an int >= 1; got 0."),
        ({"pooled_size": 0}, "pooled_size must be an int >= 1; got 0."),
    ],
)
def test_cnn_rejects_bad_encoder_params(params, message):
    X, y = shifted_images(12, side=8)
    est = SiameseTransformer(encoder="cnn", encoder_params=params, max_epochs=1)
    with pytest.raises(ValueError, match=re.escape(message)):
        est.fit(X, y)


@parametrize_with_checks(
    [SiameseTransformer(encoder="cnn", input_shape=(1, 1, -1), max_epochs=2,
                        random_state=0)]
)
def test_cnn_transformer_passes_sklearn_checks(estimator, check):
    check(estimator)


# -- RNN ---------------------------------------------------------------------


def test_rnn_reaches_high_one_nn_accuracy_on_ordered_motifs():
    X_train, y_train = motif_sequences(160, seed=1)
    X_test, y_test = motif_sequences(200, seed=2)
    emb = SiameseTransformer(
        encoder="rnn", encoder_params={"vocab_size": 30}, n_components=8,
        batch_size=32, lr=3e-3, max_epochs=10, random_state=0,
    ).fit(X_train, y_train)
    accuracy = one_nn_accuracy(emb.transform(X_train), y_train,
                               emb.transform(X_test), y_test)
    bag_accuracy = one_nn_accuracy(bag_of_words(X_train), y_train,
                                   bag_of_words(X_test), y_test)
    assert isinstance(emb.net_.module_, RNNEncoder)
    assert accuracy >= 0.9
    # The order of the motif is all that tells the classes apart.
    assert bag_accuracy < 0.4


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_rnn_embedding_does_not_depend_on_padding(cell, bidirectional, pooling):
    encoder = RNNEncoder(n_components=5, vocab_size=40, cell=cell,
                         bidirectional=bidirectional, pooling=pooling).eval()
    X = torch.from_numpy(motif_sequences(6, length=8, vocab_size=40)[0])
    X[1, 3:] = 0
    X[2] = 0
    reference = encoder(X)
    pad = torch.nn.functional.pad
    torch.testing.assert_close(encoder(pad(X, (0, 5))), reference)
    torch.testing.assert_close(encoder(pad(X, (4, 0))), reference)
    # The same tokens with padding moved in front, in the same total length.
    left = torch.stack([torch.cat([r[r == 0], r[r != 0]]) for r in X])
    torch.testing.assert_close(encoder(left), reference)
    # Padding-only rows are all alike, and differ from a real sequence.
    empty = encoder(torch.zeros(3, 8, dtype=torch.int64))
    torch.testing.assert_close(empty, reference[2].expand(3, -1))
    assert not torch.allclose(reference[0], reference[2])


def test_rnn_trains_through_padding_only_rows():
    encoder = RNNEncoder(n_components=4, vocab_size=40)
    X = torch.from_numpy(motif_sequences(6, length=8, vocab_size=40)[0])
    X[:2] = 0
    encoder(X).pow(2).sum().backward()
    grads = [p.grad for p in encoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_fitted_rnn_transformer_ignores_where_the_padding_stands():
    X, y = motif_sequences(40, seed=1)
    emb = SiameseTransformer(encoder="rnn", encoder_params={"vocab_size": 30},
                             n_components=4, max_epochs=2, random_state=0).fit(X, y)
    left = np.stack([np.concatenate([r[r == 0], r[r != 0]]) for r in X])
    assert not np.array_equal(left, X)
    np.testing.assert_allclose(emb.transform(left), emb.transform(X),
                               rtol=1e-5, atol=1e-6)
    # Integral floats are token ids too.
    np.testing.assert_allclose(emb.transform(X.astype(float)), emb.transform(X))


@pytest.mark.parametrize(
    "X, message",
    [
        (np.full((8, 2, 5), 3), "encoder='rnn' expects token ids: X of shape "
                                "(n_samples, sequence_length); got X of shape "
                                "(8, 2, 5)."),
        (np.full((8, 5), 1.5), "encoder='rnn' expects integer token ids; X holds "
                               "non-integer values."),
        (np.full((8, 5), -2), "encoder='rnn' expects token ids >= 0 (0 is "
                              "padding); X holds -2."),
    ],
)
def test_rnn_rejects_samples_that_are_not_token_ids(X, message):
    y = np.arange(8) % 2
    with pytest.raises(ValueError, match=re.escape(message)):
        SiameseTransformer(encoder="rnn", max_epochs=1).fit(X, y)


def test_rnn_rejects_token_ids_beyond_vocab_size():
    X, y = motif_sequences(16, vocab_size=30)
    message = re.escape(
        "Token id 40 is out of range for vocab_size=30 (ids must lie in 0 .. 29, "
        "0 being padding). Pass encoder_params={'vocab_size': n} with n above the "
        "largest id; TokenSequencer(vocab_size=n) emits ids below n."
    )
    est = SiameseTransformer(encoder="rnn", encoder_params={"vocab_size": 30},
                             max_epochs=1, random_state=0)
    X_bad = X.copy()
    X_bad[3, 0] = 40
    with pytest.raises(ValueError, match=message):
        est.fit(X_bad, y)
    est.fit(X, y)
    with pytest.raises(ValueError, match=message):
        est.transform(X_bad)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"cell": "transformer"},
         "cell must be one of 'lstm', 'gru'; got 'transformer'."),
        ({"pooling": "first"},
         "pooling must be one of 'last', 'mean', 'max'; got 'first'."),
        ({"vocab_size": 1}, "vocab_size must be an int >= 2; got 1."),
        ({"dropout": 1.0}, "dropout must be in [0, 1); got 1.0."),
    ],
)
def test_rnn_rejects_bad_encoder_params(params, message):
    X, y = motif_sequences(8)
    est = SiameseTransformer(encoder="rnn", encoder_params=params, max_epochs=1)
    with pytest.raises(ValueError, match=re.escape(message)):
        est.fit(X, y)


@pytest.mark.parametrize("params", [{"cell": "gru", "num_layers": 2, "dropout": 0.1},
                                    {"bidirectional": False, "pooling": "mean"}])
def test_rnn_encoder_params_shape_the_module(params):
    X, y = motif_sequences(16)
    emb = SiameseTransformer(
        encoder="rnn", encoder_params={"vocab_size": 30, "hidden_size": 8, **params},
        n_components=3, max_epochs=1, random_state=0,
    ).fit(X, y)
    rnn = emb.net_.module_.rnn
    assert isinstance(rnn, nn.GRU if params.get("cell") == "gru" else nn.LSTM)
    assert rnn.hidden_size == 8
    assert rnn.num_layers == params.get("num_layers", 1)
    assert rnn.bidirectional == params.get("bidirectional", True)
    assert emb.transform(X).shape == (16, 3)


# -- users' own modules ------------------------------------------------------


class TinyEncoder(nn.Module):
    def __init__(self, n_features, n_components, width=4):
        super().__init__()
        self.hidden = nn.Linear(n_features, width)
        self.out = nn.Linear(width, n_components)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


def test_settings_of_a_module_class_are_params():
    est = SiameseTransformer(encoder=TinyEncoder, encoder_params={"width": 3})
    assert est.get_params()["encoder"] is TinyEncoder
    assert est.get_params()["encoder_params"] == {"width": 3}
    est.set_params(encoder_params={"width": 5})
    copy = clone(est)
    assert copy.get_params()["encoder_params"] == {"width": 5}
    X, y = shifted_images(24, side=4)
    copy.fit(X.reshape(24, -1), y)
    assert copy.net_.module_.hidden.out_features == 5


def test_grid_search_tunes_a_module_class_through_encoder_params():
    X, y = shifted_images(60, side=4, noise=0.3)
    X = X.reshape(len(X), -1)
    pipe = make_pipeline(
        SiameseTransformer(encoder=TinyEncoder, n_components=4, max_epochs=3,
                           batch_size=16, random_state=0),
        KNeighborsClassifier(n_neighbors=1),
    )
    widths = [{"width": 1}, {"width": 32}]
    grid = GridSearchCV(pipe, {"siamesetransformer__encoder_params": widths}, cv=3)
    grid.fit(X, y)
    assert [p["siamesetransformer__encoder_params"] for p in
            grid.cv_results_["params"]] == widths
    best = grid.best_params_["siamesetransformer__encoder_params"]["width"]
    assert grid.best_estimator_[0].net_.module_.hidden.out_features == best
    # One hidden unit cannot keep six classes apart.
    assert best == 32


def test_a_module_instance_is_a_param_and_is_copied():
    X, y = shifted_images(24, side=4)
    X = X.reshape(24, -1)
    est = SiameseTransformer(encoder=TinyEncoder(16, 2, width=3), max_epochs=1,
                             random_state=0)
    est.set_params(encoder=TinyEncoder(16, 2, width=6))
    before = est.encoder.hidden.weight.detach().clone()
    est.fit(X, y)
    assert est.net_.module_.hidden.out_features == 6
    assert est.net_.module_ is not est.encoder
    torch.testing.assert_close(est.encoder.hidden.weight, before)


def test_build_encoder_keeps_an_instances_weights_when_asked():
    from sksiamese.encoders import build_encoder

    given = torch.nn.Linear(4, 2)
    with torch.no_grad():
        given.weight.fill_(0.25)
    given.bias.requires_grad_(False)
    kept = build_encoder(given, n_features=4, n_components=2, reset=False)
    assert kept is not given
    assert torch.equal(kept.weight, given.weight)
    assert not kept.bias.requires_grad
    reset = build_encoder(given, n_features=4, n_components=2)
    assert not torch.equal(reset.weight, given.weight)
    assert torch.equal(given.weight, torch.full((2, 4), 0.25))


@pytest.mark.parametrize("size, depth", [((8, 8), 2), ((16, 16), 3), ((28, 23), 3),
                                         ((32, 32), 4), ((105, 105), 5),
                                         ((3, 40), 1)])
def test_default_cnn_depth_fits_the_image_size(size, depth):
    from sksiamese.encoders import auto_depth

    assert auto_depth(size) == depth
    enc = CNNEncoder((1, *size), 4)
    convs = [m for m in enc.features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == depth and all(c.out_channels == 64 for c in convs)
    # The last block leaves at least 2 pixels (or the one block there is).
    out = enc.features[:-2](torch.zeros(1, 1, *size))
    assert min(out.shape[-2:]) >= 2 or depth == 1


def test_cnn_gives_the_same_embedding_in_any_memory_layout():
    torch.manual_seed(0)
    enc = CNNEncoder((1, 16, 16), 4, channels=(8, 8)).eval()
    x = torch.rand(5, 1, 16, 16)
    ours = enc(x)
    enc.features.to(memory_format=torch.contiguous_format)
    plain = enc.head(enc.features(x))
    torch.testing.assert_close(ours, plain, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="channels must be a tuple"):
        CNNEncoder((1, 16, 16), 4, channels=64)
