"""The training features the pair estimators share with SiameseTransformer.

Held-out pairs (``validation_fraction``), early stopping that keeps the best
epoch, ``warm_start``, ``lr_schedule`` and ``accelerator``: the base class
owns them, so each works the same on all three trained estimators.
"""

import numpy as np
import pytest
from skorch.callbacks import EarlyStopping

from sksiamese import SiamesePairClassifier, SiamesePairRegressor


@pytest.fixture
def data(graded_pairs):
    """Make pairs for ``cls``: 'same' labels for the classifier, scores otherwise."""
    def make(cls, n=240):
        pairs, score = graded_pairs(n)
        if cls is SiamesePairClassifier:
            return pairs, (score > 3).astype(int)
        return pairs, score
    return make


SMALL = {"max_epochs": 3, "batch_size": 32, "n_components": 4, "random_state": 0,
         "encoder_params": {"hidden_layer_sizes": (32,)}}
ESTIMATORS = [SiamesePairClassifier, SiamesePairRegressor]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warm_start_continues_training(cls, data):
    pairs, y = data(cls)
    est = cls(warm_start=True, **SMALL).fit(pairs, y)
    first = est.net_.module_.left.layers[0].weight.detach().clone()
    est.fit(pairs, y)
    assert len(est.history_) == 6
    assert not np.allclose(first, est.net_.module_.left.layers[0].weight.detach())
    # The second fit starts from the trained weights, not anew.
    cold = cls(**SMALL).fit(pairs, y)
    assert est.history_[:3, "train_loss"] == cold.history_[:, "train_loss"]
    assert est.history_[3, "train_loss"] < cold.history_[0, "train_loss"]
    # A changed architecture needs a new network: refused, nothing changed.
    before = est.history_[:, "train_loss"]
    with pytest.raises(ValueError, match="n_components changed"):
        est.set_params(n_components=5).fit(pairs, y)
    assert est.history_[:, "train_loss"] == before


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_held_out_pairs_early_stopping_and_best_epoch(cls, data):
    pairs, y = data(cls)
    est = cls(**{**SMALL, "max_epochs": 40}, validation_fraction=0.25,
              early_stopping=True, n_iter_no_change=2, lr=0.05).fit(pairs, y)
    losses = est.history_[:, "valid_loss"]
    assert len(losses) < 40  # stopped
    assert est.best_epoch_ == int(np.argmin(losses)) + 1
    # skorch's own callbacks see valid_loss too.
    plain = cls(**SMALL, validation_fraction=0.25,
                callbacks=[EarlyStopping(patience=1)]).fit(pairs, y)
    assert "valid_loss" in plain.history_[-1]
    # Without held-out pairs, early stopping is refused before training.
    with pytest.raises(ValueError,
                       match="needs held-out pairs: set validation_fraction"):
        cls(**SMALL, validation_fraction=0, early_stopping=True).fit(pairs, y)


def test_regressor_trains_on_every_pair_by_default_and_holds_out_on_request(data):
    pairs, y = data(SiamesePairRegressor)
    est = SiamesePairRegressor(**SMALL).fit(pairs, y)
    assert "valid_loss" not in est.history_[-1] and est.best_epoch_ is None
    held = SiamesePairRegressor(**SMALL, validation_fraction=0.25).fit(pairs, y)
    batches = [m.history_[-1, "train_batch_count"] for m in (held, est)]
    assert batches[0] < batches[1]
    assert np.isfinite(held.history_[:, "valid_loss"]).all()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_cosine_schedule_anneals_to_zero(cls, data):
    pairs, y = data(cls)
    est = cls(**SMALL, lr=0.01, lr_schedule="cosine").fit(pairs, y)
    # After the last of three epochs, the rate is annealed to 0.
    assert est.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    const = cls(**SMALL, lr=0.01).fit(pairs, y)
    assert const.net_.optimizer_.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_accelerator_trains_like_plain_training(cls, data):
    accelerate = pytest.importorskip(
        "accelerate", reason="needs accelerate: pip install 'sksiamese[accelerate]'")
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    try:
        pairs, y = data(cls)
        est = cls(**SMALL, accelerator=accelerate.Accelerator(cpu=True)).fit(pairs, y)
        plain = cls(**SMALL).fit(pairs, y)
        np.testing.assert_allclose(est.history_[:, "train_loss"],
                                   plain.history_[:, "train_loss"], rtol=1e-6)
        np.testing.assert_allclose(est.predict(pairs), plain.predict(pairs), rtol=1e-5)
    finally:
        AcceleratorState._reset_state(True)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_normalized_towers_embed_on_the_unit_sphere(cls, data):
    pairs, y = data(cls)
    est = cls(**SMALL, normalize=True, lr_groups={"layers.0.": 1e-4}).fit(pairs, y)
    for side in ("left", "right"):
        Z = getattr(est, f"transform_{side}")(pairs[:20, 0])
        np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-5)
    if cls is SiamesePairClassifier:
        emb = est.get_transformer()
        np.testing.assert_allclose(emb.transform(pairs[:20, 0]),
                                   est.transform_left(pairs[:20, 0]), rtol=1e-6)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_augment_distorts_each_side_of_image_pairs(cls, data):
    rng = np.random.default_rng(0)
    _, y = data(cls, n=64)
    images = rng.uniform(size=(64, 2, 8, 8)).astype(np.float32)
    seen = []

    def record(batch):
        seen.append(batch.shape)
        return batch + 0.01

    cnn = {**SMALL, "max_epochs": 1, "encoder": "cnn",
           "encoder_params": {"channels": (4,)}}
    est = cls(**cnn, augment=record).fit(images, y)
    assert seen and all(shape[1:] == (8, 8) for shape in seen)
    assert len(seen) == 2 * est.history_[-1, "train_batch_count"]  # both sides
    with pytest.raises(ValueError, match="augment='affine' distorts images"):
        cls(**SMALL, augment="affine").fit(*data(cls))
    affine = cls(**cnn, augment="affine").fit(images, y)
    again = cls(**cnn, augment="affine").fit(images, y)
    assert affine.history_[:, "train_loss"] == again.history_[:, "train_loss"]
    plain = cls(**cnn).fit(images, y)
    assert affine.history_[:, "train_loss"] != plain.history_[:, "train_loss"]
