import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sksiamese import SiameseTransformer  # noqa: E402
from sksiamese.plotting import (  # noqa: E402
    EmbeddingDisplay,
    PairDistanceDisplay,
    TrainingCurveDisplay,
    det_curve_display,
    roc_curve_display,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = np.repeat(np.eye(3, 6) * 5, 20, axis=0)
    X = (centers + rng.normal(size=(60, 6))).astype(np.float32)
    return X, np.repeat([0, 1, 2], 20)


class Identity:
    """A fitted transformer stand-in: returns X as it is."""

    n_features_in_ = 6

    def __init__(self, distance=None):
        if distance is not None:
            self.distance = distance

    def transform(self, X):
        return np.asarray(X, dtype=np.float64)


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# -- EmbeddingDisplay ---------------------------------------------------------
def test_embedding_2d_points_as_given():
    coords = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    y = np.array([1, 0, 1, 1])
    disp = EmbeddingDisplay.from_embedding(coords, y, target_names=["zero", "one"])
    assert len(disp.scatters_) == 2
    assert_array_equal(disp.scatters_[0].get_offsets(), coords[[1]])
    assert_array_equal(disp.scatters_[1].get_offsets(), coords[[0, 2, 3]])
    assert legend_texts(disp.ax_) == ["zero", "one"]
    assert disp.ax_.get_xlabel() == "Component 1"
    assert disp.ax_.get_ylabel() == "Component 2"
    assert disp.figure_ is disp.ax_.figure
    # Each class has its own colour.
    colours = [tuple(s.get_facecolor()[0]) for s in disp.scatters_]
    assert colours[0] != colours[1]


def test_embedding_projects_with_pca(blobs):
    X, y = blobs
    disp = EmbeddingDisplay.from_estimator(Identity(), X, y)
    expected = PCA(n_components=2).fit_transform(X)
    assert_allclose(
        np.vstack([s.get_offsets() for s in disp.scatters_]),
        np.vstack([expected[y == c] for c in range(3)]),
        atol=1e-5,
    )
    assert (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()) == ("PCA 1", "PCA 2")
    assert legend_texts(disp.ax_) == ["0", "1", "2"]


def test_embedding_projects_with_tsne(blobs):
    X, y = blobs
    # t-SNE's OpenMP threads wait on each other on a busy machine (measured:
    # 9 s instead of 0.3 s); one thread is plenty for 60 points.
    with threadpool_limits(1):
        disp = EmbeddingDisplay.from_embedding(X, y, projection="tsne", random_state=0)
    assert disp.ax_.get_xlabel() == "t-SNE 1"
    assert sum(len(s.get_offsets()) for s in disp.scatters_) == 60
    # The three blobs stay apart: each class's centre is nearest its own points.
    points = [s.get_offsets() for s in disp.scatters_]
    centres = np.array([p.mean(axis=0) for p in points])
    for c, p in enumerate(points):
        d = np.linalg.norm(p[:, None] - centres[None], axis=2)
        assert (d.argmin(axis=1) == c).all()


def test_embedding_custom_projection_and_1d(blobs):
    X, y = blobs

    class FirstTwo:
        def fit_transform(self, Z):
            return Z[:, :2] * 10

    disp = EmbeddingDisplay.from_embedding(X, y, projection=FirstTwo())
    assert disp.ax_.get_xlabel() == "FirstTwo 1"
    assert_allclose(disp.scatters_[2].get_offsets(), X[y == 2, :2] * 10, rtol=1e-6)

    line = EmbeddingDisplay.from_embedding(X[:, :1], y)
    assert_array_equal(line.scatters_[0].get_offsets()[:, 1], np.zeros(20))
    assert_allclose(line.scatters_[0].get_offsets()[:, 0], X[:20, 0], rtol=1e-6)


def test_embedding_without_labels_and_legend_rules():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(50, 2))
    disp = EmbeddingDisplay.from_embedding(coords)
    assert len(disp.scatters_) == 1
    assert disp.ax_.get_legend() is None

    y = np.arange(50) % 25
    many = EmbeddingDisplay.from_embedding(coords, y)
    assert len(many.scatters_) == 25 and many.ax_.get_legend() is None
    forced = EmbeddingDisplay.from_embedding(coords, y, legend=True)
    assert len(legend_texts(forced.ax_)) == 25
    few = EmbeddingDisplay.from_embedding(coords, y % 2, legend=False)
    assert few.ax_.get_legend() is None


def test_embedding_from_siamese_transformer_on_given_axes(blobs):
    X, y = blobs
    emb = SiameseTransformer(
        n_components=2, max_epochs=2, batch_size=30, random_state=0
    ).fit(X, y)
    fig, (left, right) = plt.subplots(1, 2)
    disp = EmbeddingDisplay.from_estimator(emb, X, y, ax=right, s=5)
    assert disp.ax_ is right and disp.figure_ is fig
    assert len(left.collections) == 0
    # Two components: drawn as they are, without projection.
    Z = emb.transform(X)
    assert_allclose(disp.scatters_[1].get_offsets(), Z[y == 1], rtol=1e-6)
    assert_array_equal(disp.scatters_[0].get_sizes(), [5])
    assert disp.ax_.get_xlabel() == "Component 1"


def test_embedding_errors(blobs):
    X, y = blobs
    with pytest.raises(
        ValueError,
        match=r"EmbeddingDisplay draws 2-D coordinates "
        r"of shape \(n_samples, 2\); got shape \(60, 6\)",
    ):
        EmbeddingDisplay(X, y).plot()
    with pytest.raises(
        ValueError,
        match="projection must be 'pca', 'tsne' or an object with fit_transform",
    ):
        EmbeddingDisplay.from_embedding(X, y, projection="umap")
    with pytest.raises(
        ValueError,
        match=r"y should have shape \(60,\), one class "
        r"per point; got shape \(59,\)",
    ):
        EmbeddingDisplay.from_embedding(X, y[:-1])
    with pytest.raises(ValueError, match="The embedding should be a non-empty 2-D"):
        EmbeddingDisplay.from_embedding(X[0], None)


@pytest.mark.parametrize("y", [[0, 1, 2], [-1, 0, 1]])
def test_embedding_too_few_target_names(y):
    coords = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"target_names has 2 name\(s\), so it "
                                         r"names the integer classes 0 to 1; y also "
                                         r"holds \[(2|-1)\]\."):
        EmbeddingDisplay(coords, y, target_names=["a", "b"]).plot()
    plt.close("all")


def test_needs_matplotlib(blobs, monkeypatch):
    X, y = blobs
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(
        ImportError,
        match="EmbeddingDisplay needs matplotlib to "
        "draw. Install it with `pip install matplotlib`",
    ):
        EmbeddingDisplay.from_estimator(Identity(), X, y)
    with pytest.raises(ImportError, match="PairDistanceDisplay needs matplotlib"):
        PairDistanceDisplay.from_distances([0.1, 0.2], [1, 0])


# -- PairDistanceDisplay ------------------------------------------------------
def test_pair_distances_histograms_and_threshold():
    rng = np.random.default_rng(0)
    same = rng.uniform(0, 1, 40)
    different = rng.uniform(0.5, 2, 60)
    distances = np.r_[same, different]
    y = np.r_[np.ones(40, int), np.zeros(60, int)]
    disp = PairDistanceDisplay.from_distances(distances, y, threshold=0.75, bins=10)
    assert len(disp.same_patches_) == len(disp.different_patches_) == 10
    assert sum(p.get_height() for p in disp.same_patches_) == 40
    assert sum(p.get_height() for p in disp.different_patches_) == 60
    # Both histograms share the bins.
    assert [p.get_x() for p in disp.same_patches_] == [
        p.get_x() for p in disp.different_patches_
    ]
    assert disp.same_patches_[0].get_x() == pytest.approx(distances.min())
    assert list(disp.threshold_line_.get_xdata()) == [0.75, 0.75]
    assert legend_texts(disp.ax_) == [
        "same (40 pairs)",
        "different (60 pairs)",
        "threshold 0.75",
    ]
    assert (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()) == ("distance", "pairs")

    dens = PairDistanceDisplay.from_distances(distances, y == 1, density=True)
    assert dens.threshold_line_ is None
    assert dens.ax_.get_ylabel() == "density"
    area = sum(p.get_height() * p.get_width() for p in dens.same_patches_)
    assert area == pytest.approx(1.0)


def test_pair_distances_best_threshold():
    rng = np.random.default_rng(1)
    distances = np.r_[rng.gamma(2, 0.3, 70), rng.gamma(6, 0.3, 90)]
    y = np.r_[np.ones(70), -np.ones(90)]
    disp = PairDistanceDisplay.from_distances(distances, y, threshold="best")

    def accuracy(t):
        return np.mean((distances <= t) == (y == 1))

    # No threshold does better than the one drawn.
    candidates = np.r_[distances, distances.min() - 1]
    assert accuracy(disp.threshold) == max(accuracy(t) for t in candidates)
    assert disp.threshold_line_.get_xdata()[0] == disp.threshold

    separable = PairDistanceDisplay.from_distances(
        [0.1, 0.2, 0.9, 1.0], [1, 1, 0, 0], threshold="best"
    )
    assert separable.threshold == pytest.approx(0.55)


def test_pair_distances_from_transformer():
    rng = np.random.default_rng(0)
    pairs = rng.normal(size=(30, 2, 6))
    y = rng.integers(0, 2, 30)
    disp = PairDistanceDisplay.from_estimator(Identity(), pairs, y, bins=5)
    euclid = np.linalg.norm(pairs[:, 0] - pairs[:, 1], axis=1)
    edges = np.histogram_bin_edges(euclid, bins=5)
    counts = [p.get_height() for p in disp.same_patches_]
    assert_array_equal(counts, np.histogram(euclid[y == 1], bins=edges)[0])
    assert disp.ax_.get_xlabel() == "euclidean distance"
    assert disp.threshold_line_ is None

    cos = PairDistanceDisplay.from_estimator(Identity("cosine"), pairs, y, bins=5)
    a, b = pairs[:, 0], pairs[:, 1]
    cosine = 1 - (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    edges = np.histogram_bin_edges(cosine, bins=5)
    assert_array_equal(
        [p.get_height() for p in cos.different_patches_],
        np.histogram(cosine[y == 0], bins=edges)[0],
    )
    assert cos.ax_.get_xlabel() == "cosine distance"

    # Images as sides: each side is embedded as it comes.
    images = rng.normal(size=(10, 2, 3, 2))
    flat = PairDistanceDisplay.from_estimator(
        type("Flat", (), {"transform": lambda self, X: X.reshape(len(X), -1)})(),
        images,
        np.arange(10) % 2,
        threshold=1.5,
    )
    assert list(flat.threshold_line_.get_xdata()) == [1.5, 1.5]


class FakePairClassifier:
    """Duck-typed SiamesePairClassifier: similarity is minus the distance."""

    def __init__(self, loss):
        self.loss = loss
        self.distance = "cosine"
        self.threshold_ = -0.4

    def decision_function(self, pairs):
        return -np.asarray(pairs)[:, 0, 0] - self.threshold_


def test_pair_distances_from_pair_classifier():
    pairs = np.array([[[0.1]], [[0.3]], [[0.6]], [[0.9]]]) * np.ones((4, 2, 1))
    y = [1, 1, 0, 0]
    disp = PairDistanceDisplay.from_estimator(
        FakePairClassifier("contrastive"), pairs, y, bins=3
    )
    assert list(disp.threshold_line_.get_xdata()) == [0.4, 0.4]
    assert disp.ax_.get_xlabel() == "cosine distance"
    assert disp.same_patches_[0].get_x() == pytest.approx(0.1)

    bce = PairDistanceDisplay.from_estimator(
        FakePairClassifier("bce"), pairs, y, threshold=-0.5
    )
    assert bce.ax_.get_xlabel() == "similarity score (higher is more similar)"
    assert list(bce.threshold_line_.get_xdata()) == [-0.5, -0.5]
    assert bce.same_patches_[0].get_x() == pytest.approx(-0.9)


def test_pair_distances_from_real_pair_classifier():
    try:
        from sksiamese import SiamesePairClassifier
    except ImportError:
        pytest.skip("sksiamese.SiamesePairClassifier is not available yet")
    rng = np.random.default_rng(0)
    left = rng.normal(size=(200, 4))
    same = rng.integers(0, 2, size=200)
    right = np.where(same[:, None] == 1, left, rng.normal(size=(200, 4)))
    pairs = np.stack([left, right + 0.05 * rng.normal(size=(200, 4))], axis=1)
    clf = SiamesePairClassifier(max_epochs=3, random_state=0).fit(pairs, same)
    disp = PairDistanceDisplay.from_estimator(clf, pairs, same)
    assert disp.threshold_line_.get_xdata()[0] == pytest.approx(-clf.threshold_)
    assert sum(p.get_height() for p in disp.same_patches_) == same.sum()
    predicted_same = disp.distances <= disp.threshold
    assert_array_equal(predicted_same, clf.predict(pairs) == 1)


def test_pair_distances_from_pair_classifier_with_pos_label_first():
    # With labels ("match", "mismatch") and pos_label="match", "same" is the
    # first class: the display still draws the embeddings' distances, the
    # same as for the classifier fitted on 1 for "same", 0 otherwise.
    from sksiamese import SiamesePairClassifier

    rng = np.random.default_rng(0)
    left = rng.normal(size=(200, 4))
    same = rng.integers(0, 2, size=200)
    right = np.where(same[:, None] == 1, left, rng.normal(size=(200, 4)))
    pairs = np.stack([left, right + 0.05 * rng.normal(size=(200, 4))], axis=1)
    labels = np.where(same == 1, "match", "mismatch")
    named = SiamesePairClassifier(max_epochs=3, random_state=0, pos_label="match")
    named.fit(pairs, labels)
    coded = SiamesePairClassifier(max_epochs=3, random_state=0).fit(pairs, same)
    disp = PairDistanceDisplay.from_estimator(named, pairs, same)
    reference = PairDistanceDisplay.from_estimator(coded, pairs, same)
    assert_allclose(disp.distances, reference.distances, rtol=1e-6, atol=1e-6)
    assert (disp.distances >= 0).all()
    assert disp.threshold == pytest.approx(-named.threshold_)
    predicted_same = disp.distances <= disp.threshold
    assert_array_equal(predicted_same, named.predict(pairs) == "match")


def test_pair_distances_errors():
    with pytest.raises(
        ValueError,
        match="y should hold 1 .* for pairs of the same "
        r"class and 0, -1 or False for different ones; got values "
        r"\[0, 2\]",
    ):
        PairDistanceDisplay.from_distances([0.1, 0.2], [0, 2])
    with pytest.raises(
        ValueError,
        match=r"y should have shape \(2,\), one label "
        r"per pair; got shape \(3,\)",
    ):
        PairDistanceDisplay.from_distances([0.1, 0.2], [0, 1, 1])
    with pytest.raises(
        ValueError, match="threshold must be a number, 'best' or None; got 'auto'"
    ):
        PairDistanceDisplay.from_distances([0.1, 0.2], [0, 1], threshold="auto")
    with pytest.raises(
        ValueError,
        match=r"pairs must have shape \(n_pairs, 2, "
        r"n_features\).*got shape \(5, 6\)",
    ):
        PairDistanceDisplay.from_estimator(Identity(), np.zeros((5, 6)), [0] * 5)
    with pytest.raises(
        TypeError,
        match="estimator must be a fitted transformer "
        r"\(with transform\), a fitted SiamesePairClassifier \(with "
        r"decision_function and threshold_\) or None; got object",
    ):
        PairDistanceDisplay.from_estimator(object(), np.zeros((5, 2, 6)), [0] * 5)


# -- TrainingCurveDisplay -----------------------------------------------------
HISTORY = [
    {
        "epoch": 1,
        "train_loss": 1.0,
        "valid_loss": 1.5,
        "train_loss_best": True,
        "valid_acc": 0.5,
        "dur": 0.1,
        "batches": [{"train_loss": 1.0}],
    },
    {
        "epoch": 2,
        "train_loss": 0.5,
        "train_loss_best": True,
        "valid_acc": 0.7,
        "dur": 0.1,
        "batches": [],
    },
    {
        "epoch": 3,
        "train_loss": 0.25,
        "valid_loss": 0.9,
        "train_loss_best": True,
        "valid_acc": 0.8,
        "dur": 0.1,
        "batches": [],
    },
]


def test_training_curves_from_history():
    disp = TrainingCurveDisplay.from_history(HISTORY)
    assert list(disp.lines_) == ["train_loss", "valid_loss"]
    assert_array_equal(disp.lines_["train_loss"].get_xdata(), [1, 2, 3])
    assert_array_equal(disp.lines_["train_loss"].get_ydata(), [1.0, 0.5, 0.25])
    # An epoch without a value leaves a gap.
    assert_array_equal(disp.lines_["valid_loss"].get_ydata(), [1.5, np.nan, 0.9])
    assert (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()) == ("epoch", "loss")
    assert legend_texts(disp.ax_) == ["train_loss", "valid_loss"]
    assert disp.ax_.get_yscale() == "linear"

    acc = TrainingCurveDisplay.from_history(
        HISTORY, keys="valid_acc", log_scale=True, marker="o"
    )
    assert list(acc.lines_) == ["valid_acc"]
    assert acc.ax_.get_ylabel() == "value"
    assert acc.ax_.get_yscale() == "log"
    assert acc.lines_["valid_acc"].get_marker() == "o"


def test_training_curves_errors():
    with pytest.raises(
        ValueError,
        match=r"The history has no numeric entries "
        r"\['valid_f1'\]; its numeric per-epoch entries are "
        r"\['train_loss', 'valid_acc', 'valid_loss'\]",
    ):
        TrainingCurveDisplay.from_history(HISTORY, keys=["valid_f1"])
    with pytest.raises(
        ValueError,
        match="The history has no numeric entry ending "
        r"in 'loss'; pass keys to choose among \['acc'\]",
    ):
        TrainingCurveDisplay.from_history([{"epoch": 1, "acc": 0.5}])
    with pytest.raises(ValueError, match="The history is empty"):
        TrainingCurveDisplay.from_history([])
    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(SiameseTransformer())
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="PCA has no history_ to plot"):
        TrainingCurveDisplay.from_estimator(PCA(2).fit(rng.normal(size=(5, 3))))


def test_training_curves_from_siamese_transformer(blobs):
    X, y = blobs
    emb = SiameseTransformer(max_epochs=3, batch_size=30, random_state=0).fit(X, y)
    _, ax = plt.subplots()
    disp = TrainingCurveDisplay.from_estimator(emb, ax=ax)
    assert disp.ax_ is ax
    assert_array_equal(disp.lines_["train_loss"].get_xdata(), [1, 2, 3])
    assert_allclose(
        disp.lines_["train_loss"].get_ydata(), emb.history_[:, "train_loss"]
    )


# -- ROC and DET curves ---------------------------------------------------------
def all_pair_distances(X, y):
    same, distances = [], []
    for i in range(len(X)):
        for j in range(i + 1, len(X)):
            same.append(int(y[i] == y[j]))
            distances.append(np.linalg.norm(X[i] - X[j]))
    return np.array(same), np.array(distances)


@pytest.mark.parametrize("function", [roc_curve_display, det_curve_display])
def test_verification_curves_are_sklearns_on_every_pair(blobs, function):
    from sklearn.metrics import RocCurveDisplay, det_curve, roc_auc_score, roc_curve

    from sksiamese.metrics import equal_error_rate

    X, y = blobs
    X, y = X[::2], y[::2]
    disp = function(Identity(), X, y, name="blobs")
    same, d = all_pair_distances(X.astype(np.float64), y)
    assert disp.roc_auc_ == pytest.approx(roc_auc_score(same, -d))
    assert disp.eer_ == pytest.approx(equal_error_rate(same, d)[0])
    if function is roc_curve_display:
        assert isinstance(disp, RocCurveDisplay)
        fpr, tpr, _ = roc_curve(same, -d)
        assert_allclose(disp.fpr, fpr, atol=1e-12)
        assert_allclose(disp.tpr, tpr)
        assert disp.line_.get_label() == (f"blobs, EER = {disp.eer_:.3f} "
                                          f"(AUC = {disp.roc_auc_:.2f})")
    else:
        fpr, fnr, _ = det_curve(same, -d, drop_intermediate=True)
        assert_allclose(disp.fpr, fpr, atol=1e-12)
        assert_allclose(disp.fnr, fnr, atol=1e-12)
        assert disp.line_.get_label() == (f"blobs (AUC = {disp.roc_auc_:.3f}, "
                                          f"EER = {disp.eer_:.3f})")


def test_verification_curves_on_pairs_and_on_a_sample_of_pairs(blobs):
    from sksiamese.metrics import pair_distances, verification_roc_auc

    X, y = blobs
    other = np.random.default_rng(0).permutation(60)
    pairs = np.stack([X, X[other]], axis=1)
    same = (y == y[other]).astype(int)
    disp = roc_curve_display(None, pairs, same, on="pairs")
    assert disp.roc_auc_ == pytest.approx(
        verification_roc_auc(same, pair_distances(None, pairs)))
    assert disp.line_.get_label().startswith("raw features, EER = ")
    sampled = det_curve_display(Identity(), X, y, max_pairs=300, random_state=0)
    again = det_curve_display(Identity(), X, y, max_pairs=300, random_state=0)
    assert len(sampled.fpr) > 2
    assert_allclose(sampled.fpr, again.fpr)
    assert sampled.roc_auc_ > 0.9


def test_verification_curve_errors(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"on must be 'samples' or 'pairs'; got "
                                         r"'triplets'\."):
        roc_curve_display(None, X, y, on="triplets")
    with pytest.raises(ValueError, match=r"max_pairs must be an integer >= 2; got 1"):
        roc_curve_display(None, X, y, max_pairs=1)
    with pytest.raises(ValueError, match=r"The pairs of these samples are all of one "
                                         r"kind"):
        roc_curve_display(None, X[:3], [0, 1, 2])
    with pytest.raises(ValueError, match=r"y should have shape \(60,\), one class "
                                         r"per sample; got shape \(59,\)\."):
        det_curve_display(None, X, y[:-1])


def test_pair_distances_show_auc_and_eer():
    from sksiamese.metrics import equal_error_rate, verification_roc_auc

    distances = np.array([0.1, 0.5, 0.4, 0.9, 0.3, 1.2])
    y = np.array([1, 1, 0, 0, 1, 0])
    disp = PairDistanceDisplay.from_distances(distances, y)
    assert disp.roc_auc_ == verification_roc_auc(y, distances)
    assert disp.eer_ == equal_error_rate(y, distances)[0]
    assert disp.ax_.get_legend().get_title().get_text() == (
        f"AUC = {disp.roc_auc_:.3f}, EER = {disp.eer_:.3f}")
    # Similarity scores are oriented the other way round.
    scores = PairDistanceDisplay.from_distances(-distances, y, higher_is_same=True)
    assert scores.roc_auc_ == disp.roc_auc_ and scores.eer_ == disp.eer_
    one_kind = PairDistanceDisplay.from_distances([0.1, 0.2], [1, 1])
    assert one_kind.roc_auc_ is None and one_kind.eer_ is None


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_embedding_display_refuses_non_finite_embeddings(value):
    Z = np.zeros((4, 3))
    Z[2, 1] = value
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 rows \(\[2\]\)"):
        EmbeddingDisplay.from_embedding(Z, [0, 0, 1, 1])


@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_pair_distance_display_refuses_non_finite_distances(value):
    with pytest.raises(ValueError, match=r"distances holds 1 NaN or infinite values "
                                         r"\(at \[1\]\)"):
        PairDistanceDisplay.from_distances([0.1, value, 0.3], [1, 0, 1])
