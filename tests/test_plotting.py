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


def data_points(ax):
    """Where the axes draw their data, in display coordinates, after a draw.

    Scatter offsets, line vertices and the corners of bars, each through the
    transform its artist is drawn with (``ax.transData`` for most).
    """
    points = [np.empty((0, 2))]
    for collection in ax.collections:
        offsets = np.asarray(collection.get_offsets(), dtype=float)
        if len(offsets):
            points.append(collection.get_offset_transform().transform(offsets))
    for line in ax.lines:
        xy = np.asarray(line.get_xydata(), dtype=float)
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy):
            points.append(line.get_transform().transform(xy))
    for patch in ax.patches:
        box = patch.get_window_extent()
        points.append(np.array([[box.x0, box.y0], [box.x1, box.y1],
                                [box.x0, box.y1], [box.x1, box.y0]]))
    return np.vstack(points)


def assert_legend_hides_no_data(ax, *others):
    """The legend of ``ax`` covers no point, line or bar of ``ax`` (or ``others``)."""
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent()
    for axes in (ax, *others):
        points = data_points(axes)
        assert len(points)
        inside = ((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                  & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1))
        assert not inside.any(), points[inside][:5]
        # Nor anything else inside the axes, where the data are drawn.
        assert not box.overlaps(axes.bbox), (box, axes.bbox)
    # And it stays inside the figure.
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)


def assert_labels_inside_figure(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
            if not label.get_text():
                continue
            box = label.get_window_extent(renderer)
            assert (box.x0 >= fig.bbox.x0 and box.y0 >= fig.bbox.y0
                    and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1), (
                label.get_text(), box, fig.bbox)


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
    # Every class coloured: 25 colours are too many for a legend.
    many = EmbeddingDisplay.from_embedding(coords, y, highlight=None)
    assert len(many.scatters_) == 25 and many.ax_.get_legend() is None
    forced = EmbeddingDisplay.from_embedding(coords, y, legend=True, highlight=None)
    assert len(legend_texts(forced.ax_)) == 25
    few = EmbeddingDisplay.from_embedding(coords, y % 2, legend=False)
    assert few.ax_.get_legend() is None


def test_embedding_legend_hides_no_point():
    rng = np.random.default_rng(0)
    # Points up to the axes' corners, where a legend inside would fall.
    coords = rng.uniform(-1, 1, size=(400, 2))
    disp = EmbeddingDisplay.from_embedding(coords, np.arange(400) % 10)
    assert len(legend_texts(disp.ax_)) == 10
    assert_legend_hides_no_data(disp.ax_)
    assert disp.figure_.get_layout_engine() is not None
    assert_labels_inside_figure(disp.figure_)
    # On axes of the user's figure too, on the right of two panels.
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4))
    EmbeddingDisplay.from_embedding(coords, np.arange(400) % 10, ax=right)
    assert_legend_hides_no_data(right)


def many_classes():
    """30 classes; class c has 2 + c points, so 20-29 are the most populous."""
    rng = np.random.default_rng(0)
    y = np.concatenate([np.full(2 + c, c) for c in range(30)])
    return rng.normal(size=(len(y), 2)), y


def test_embedding_many_classes_highlights_the_most_populous():
    coords, y = many_classes()
    disp = EmbeddingDisplay.from_embedding(coords, y)
    assert disp.highlighted_ == list(range(20, 30))
    assert len(disp.scatters_) == 30
    assert legend_texts(disp.ax_) == [str(c) for c in range(20, 30)] + [
        "20 other classes"]
    colours = [tuple(s.get_facecolor()[0][:3]) for s in disp.scatters_]
    grey = colours[0]
    assert grey[0] == grey[1] == grey[2]  # grey, and the same for all others
    assert set(colours[:20]) == {grey}
    assert len(set(colours[20:])) == 10 and grey not in colours[20:]
    assert all(s.get_zorder() < disp.scatters_[-1].get_zorder()
               for s in disp.scatters_[:20])
    # The legend's last entry is the grey points'.
    handles = disp.ax_.get_legend().legend_handles
    assert tuple(handles[-1].get_facecolor()[0][:3]) == grey
    assert_legend_hides_no_data(disp.ax_)

    chosen = EmbeddingDisplay.from_embedding(coords, y, highlight=[3, 7])
    assert legend_texts(chosen.ax_) == ["3", "7", "28 other classes"]
    five = EmbeddingDisplay.from_embedding(coords, y, highlight=5)
    assert five.highlighted_ == [25, 26, 27, 28, 29]
    named = EmbeddingDisplay.from_embedding(
        coords[y < 3], y[y < 3], target_names=["a", "b", "c"], highlight=[1])
    assert legend_texts(named.ax_) == ["b", "2 other classes"]


def test_embedding_coloured_by_groups():
    coords, y = many_classes()
    alphabet = {c: ["Greek", "Latin", "Runic"][c % 3] for c in range(30)}
    disp = EmbeddingDisplay.from_embedding(coords, y, groups=alphabet)
    assert disp.highlighted_ == ["Greek", "Latin", "Runic"]
    legend = disp.ax_.get_legend()
    assert legend.get_title().get_text() == "group"
    assert legend_texts(disp.ax_) == ["Greek", "Latin", "Runic"]
    colours = [tuple(s.get_facecolor()[0]) for s in disp.scatters_]
    for c in range(30):
        assert colours[c] == colours[c % 3]
    assert len(set(colours)) == 3
    # The group of each point says the same.
    per_point = EmbeddingDisplay.from_embedding(
        coords, y, groups=[alphabet[c] for c in y], highlight=["Runic"])
    assert legend_texts(per_point.ax_) == ["Runic", "2 other groups"]
    assert [tuple(s.get_facecolor()[0]) for s in per_point.scatters_][2::3] == [
        tuple(per_point.scatters_[2].get_facecolor()[0])] * 10
    assert_legend_hides_no_data(per_point.ax_)


def test_embedding_highlight_and_groups_errors():
    coords, y = many_classes()
    with pytest.raises(ValueError, match=r"highlight names \[99\], which are not "
                                         r"among the classes"):
        EmbeddingDisplay.from_embedding(coords, y, highlight=[99])
    with pytest.raises(ValueError, match="highlight must be 'auto', an int"):
        EmbeddingDisplay.from_embedding(coords, y, highlight="all")
    with pytest.raises(ValueError, match=r"groups has no group for the classes "
                                         r"\[29\]"):
        EmbeddingDisplay.from_embedding(coords, y, groups={c: 0 for c in range(29)})
    with pytest.raises(ValueError, match=r"The points of class 0 are in several "
                                         r"groups"):
        EmbeddingDisplay.from_embedding(coords, y, groups=np.arange(len(y)))
    with pytest.raises(ValueError, match=r"groups should be a mapping"):
        EmbeddingDisplay.from_embedding(coords, y, groups=[0, 1])


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


def test_pair_distance_legend_hides_no_bar():
    rng = np.random.default_rng(0)
    # Tall bars at both ends, where a legend inside the axes would sit.
    distances = np.r_[rng.uniform(0, 0.2, 300), rng.uniform(1.8, 2, 300),
                      rng.uniform(0, 2, 100)]
    y = np.r_[np.ones(300), np.zeros(300), np.arange(100) % 2]
    disp = PairDistanceDisplay.from_distances(distances, y, threshold="best")
    assert disp.ax_.get_legend().get_title().get_text().startswith("AUC = ")
    assert_legend_hides_no_data(disp.ax_)
    assert_labels_inside_figure(disp.figure_)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax in axes:
        PairDistanceDisplay.from_distances(distances, y, ax=ax, bins=40)
    for ax in axes:
        assert_legend_hides_no_data(ax)
    assert_labels_inside_figure(fig)


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
    disp = TrainingCurveDisplay.from_history(HISTORY, keys=["train_loss", "valid_loss"])
    assert list(disp.lines_) == ["train_loss", "valid_loss"]
    assert disp.score_ax_ is None
    assert_array_equal(disp.lines_["train_loss"].get_xdata(), [1, 2, 3])
    assert_array_equal(disp.lines_["train_loss"].get_ydata(), [1.0, 0.5, 0.25])
    # An epoch without a value leaves a gap.
    assert_array_equal(disp.lines_["valid_loss"].get_ydata(), [1.5, np.nan, 0.9])
    assert (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()) == ("epoch", "loss")
    assert legend_texts(disp.ax_) == ["train_loss", "valid_loss"]
    assert disp.ax_.get_yscale() == "linear"
    assert_legend_hides_no_data(disp.ax_)

    acc = TrainingCurveDisplay.from_history(
        HISTORY, keys="valid_acc", log_scale=True, marker="o"
    )
    assert list(acc.lines_) == ["valid_acc"]
    assert acc.ax_.get_ylabel() == "value"
    assert acc.ax_.get_yscale() == "log"
    assert acc.lines_["valid_acc"].get_marker() == "o"


def test_training_curves_draw_held_out_scores_by_default():
    disp = TrainingCurveDisplay.from_history(HISTORY)
    # The losses on the left, the held-out score on a second axis.
    assert list(disp.lines_) == ["train_loss", "valid_loss", "valid_acc"]
    assert disp.lines_["train_loss"].axes is disp.ax_
    assert disp.lines_["valid_loss"].axes is disp.ax_
    assert disp.lines_["valid_acc"].axes is disp.score_ax_
    assert disp.score_ax_.get_ylabel() == "held-out score"
    assert disp.ax_.get_ylabel() == "loss"
    assert_array_equal(disp.lines_["valid_acc"].get_ydata(), [0.5, 0.7, 0.8])
    assert legend_texts(disp.ax_) == ["train_loss", "valid_loss", "valid_acc"]
    colours = {line.get_color() for line in disp.lines_.values()}
    assert len(colours) == 3
    assert disp.lines_["valid_loss"].get_linestyle() == "--"
    # Integer epochs on the axis.
    disp.figure_.canvas.draw()
    ticks = [t for t in disp.ax_.get_xticks()
             if disp.ax_.get_xlim()[0] <= t <= disp.ax_.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert_legend_hides_no_data(disp.ax_, disp.score_ax_)
    # The legend is beyond the second axis' labels too.
    renderer = disp.figure_.canvas.get_renderer()
    legend_box = disp.ax_.get_legend().get_window_extent(renderer)
    assert legend_box.x0 >= disp.score_ax_.get_tightbbox(renderer).x1 - 1
    assert_labels_inside_figure(disp.figure_)


def test_training_curves_mark_the_best_epoch():
    disp = TrainingCurveDisplay.from_history(HISTORY, best_epoch=2, name="adam")
    assert list(disp.best_epoch_line_.get_xdata()) == [2, 2]
    assert "best epoch (2)" in legend_texts(disp.ax_)
    assert "train_loss (adam)" in legend_texts(disp.ax_)
    stars = [line for ax in (disp.ax_, disp.score_ax_) for line in ax.lines
             if line.get_marker() == "*"]
    # train_loss and valid_acc have a value at epoch 2; valid_loss has none.
    assert sorted((line.get_xdata()[0], line.get_ydata()[0]) for line in stars) == [
        (2, 0.5), (2, 0.7)]
    assert_legend_hides_no_data(disp.ax_, disp.score_ax_)
    # A single epoch still shows, as a marker.
    one = TrainingCurveDisplay.from_history(HISTORY[:1], keys="train_loss")
    assert one.lines_["train_loss"].get_marker() == "o"


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
    assert disp.best_epoch_line_ is None
    # Early stopping's best epoch is marked, and the held-out scores drawn.
    from sklearn.datasets import load_digits

    digits, classes = load_digits(return_X_y=True)
    stopped = SiameseTransformer(max_epochs=4, random_state=0,
                                 validation_fraction=0.3, early_stopping=True,
                                 n_iter_no_change=2).fit(digits[:400], classes[:400])
    assert stopped.best_epoch_ is not None
    shown = TrainingCurveDisplay.from_estimator(stopped)
    assert shown.best_epoch_line_.get_xdata()[0] == stopped.best_epoch_
    assert "valid_precision_at_1" in shown.lines_
    assert shown.lines_["valid_precision_at_1"].axes is shown.score_ax_
    # skorch's count of held-out batches is no score.
    assert "valid_batch_count" in stopped.history_[-1]
    assert not any(key.endswith("_count") for key in shown.lines_)
    assert_legend_hides_no_data(shown.ax_, shown.score_ax_)


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
    else:
        fpr, fnr, _ = det_curve(same, -d, drop_intermediate=True)
        assert_allclose(disp.fpr, fpr, atol=1e-12)
        assert_allclose(disp.fnr, fnr, atol=1e-12)
    # One label, with the same digits, on both curves.
    assert disp.line_.get_label() == (f"blobs (AUC = {disp.roc_auc_:.3f}, "
                                      f"EER = {disp.eer_:.3f})")
    assert legend_texts(disp.ax_) == [disp.line_.get_label()]
    # The positive pairs are named as a person who passed classes knows them.
    for text in (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()):
        assert "Positive label" not in text and "same class" in text or (
            "different classes called same" in text)
    assert_legend_hides_no_data(disp.ax_)


def test_verification_curves_on_pairs_and_on_a_sample_of_pairs(blobs):
    from sksiamese.metrics import pair_distances, verification_roc_auc

    X, y = blobs
    other = np.random.default_rng(0).permutation(60)
    pairs = np.stack([X, X[other]], axis=1)
    same = (y == y[other]).astype(int)
    disp = roc_curve_display(None, pairs, same, on="pairs")
    assert disp.roc_auc_ == pytest.approx(
        verification_roc_auc(same, pair_distances(None, pairs)))
    assert disp.line_.get_label().startswith("raw features (AUC = ")
    sampled = det_curve_display(Identity(), X, y, max_pairs=300, random_state=0)
    again = det_curve_display(Identity(), X, y, max_pairs=300, random_state=0)
    assert len(sampled.fpr) > 2
    assert_allclose(sampled.fpr, again.fpr)
    assert sampled.roc_auc_ > 0.9


def test_roc_and_det_side_by_side_keep_labels_and_legends_inside(blobs):
    # A 9x4 figure made without a layout engine: the ROC's y-label was cut off.
    X, y = blobs
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    for name, model in (("raw", None), ("identity", Identity())):
        roc = roc_curve_display(model, X, y, name=name, ax=left)
        det = det_curve_display(model, X, y, name=name, ax=right)
    assert fig.get_layout_engine() is not None
    assert_labels_inside_figure(fig)
    assert_legend_hides_no_data(left)
    assert_legend_hides_no_data(right)
    roc_labels, det_labels = legend_texts(left), legend_texts(right)
    assert len(roc_labels) == 2 and roc_labels == det_labels
    assert roc_labels[1] == (f"identity (AUC = {roc.roc_auc_:.3f}, "
                             f"EER = {roc.eer_:.3f})")
    assert det.roc_auc_ == roc.roc_auc_
    assert left.get_ylabel() == "True positive rate\n(same class called same)"
    assert right.get_ylabel() == "False negative rate\n(same class called different)"
    assert left.get_xlabel() == right.get_xlabel() == (
        "False positive rate\n(different classes called same)")
    # A figure of its own has a layout engine too.
    alone = roc_curve_display(None, X, y)
    assert alone.figure_.get_layout_engine() is not None
    assert_labels_inside_figure(alone.figure_)


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


# -- the demo's figure (examples/demo_digits.py) --------------------------------
def load_demo():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "demo_digits.py"
    spec = importlib.util.spec_from_file_location("demo_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_figure_draws_the_tables_embedding(tmp_path):
    from sklearn.datasets import load_digits

    demo = load_demo()
    X, y = load_digits(return_X_y=True)
    emb = SiameseTransformer(n_components=16, max_epochs=2, random_state=0)
    emb.fit(X[:300] / 16, y[:300])
    path = demo.write_figure(emb, X[300:500] / 16, y[300:500], tmp_path)
    assert path.stat().st_size > 10_000
    fig = plt.gcf()
    (ax,) = fig.axes
    # The model of the table, projected, and the title says so.
    assert "16-D" in ax.get_title() and "PCA" in ax.get_title()
    assert ax.get_xlabel() == "PCA 1"
    expected = PCA(n_components=2, random_state=0).fit_transform(
        emb.transform(X[300:500] / 16))
    assert_allclose(np.vstack([s.get_offsets() for s in ax.collections]),
                    np.vstack([expected[y[300:500] == c] for c in range(10)]),
                    atol=1e-5)
    assert_legend_hides_no_data(ax)
    assert_labels_inside_figure(fig)


def test_per_epoch_tables_have_no_colour_off_a_terminal(capsys, monkeypatch):
    import sys

    from sklearn.datasets import load_digits

    from sksiamese import SiameseTransformer

    X, y = load_digits(return_X_y=True)
    SiameseTransformer(max_epochs=2, verbose=1, random_state=0).fit(X[:200] / 16,
                                                                     y[:200])
    out = capsys.readouterr().out
    assert "train_loss" in out and "\x1b[" not in out
    # A terminal gets skorch's colours.
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    SiameseTransformer(max_epochs=2, verbose=1, random_state=0).fit(X[:200] / 16,
                                                                     y[:200])
    assert "\x1b[" in capsys.readouterr().out
