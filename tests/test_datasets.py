import ast
import hashlib
import io
import os
import re
import shutil
import stat
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image, ImageDraw
from sklearn.decomposition import PCA
from sklearn.utils import Bunch

from sksiamese import datasets
from sksiamese.datasets import (
    _base,
    evaluate_one_shot_runs,
    fetch_omniglot,
    fetch_omniglot_one_shot,
    get_data_home,
    load_image_folder,
    omniglot,
)

SMALL_SETS = {
    "background_small1": (
        "images_background_small1.zip",
        136,
        ["Balinese", "Early_Aramaic", "Greek", "Korean", "Latin"],
    ),
    "background_small2": (
        "images_background_small2.zip",
        156,
        ["Greek", "Japanese_(katakana)", "Latin", "Sanskrit", "Tagalog"],
    ),
}


def png_bytes(draw, size=(105, 105), mode="1"):
    """A PNG with black ink on white paper, drawn by ``draw(ImageDraw)``."""
    img = Image.new(mode, size, color=255 if mode != "1" else 1)
    draw(ImageDraw.Draw(img))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def box(x0, y0, x1, y1):
    return lambda d: d.rectangle((x0, y0, x1, y1), fill=0)


def make_omniglot_zip(path, top, alphabets, n_drawers=2, offset=0):
    """A zip file in the layout of the release, ``alphabets`` -> n characters."""
    with zipfile.ZipFile(path, "w") as z:
        char_no = 0
        for alphabet, n_chars in alphabets.items():
            for c in range(1, n_chars + 1):
                char_no += 1
                for d in range(1, n_drawers + 1):
                    x = 5 * char_no + d + offset
                    z.writestr(
                        f"{top}/{alphabet}/character{c:02d}/{char_no:04d}_{d:02d}.png",
                        png_bytes(box(x, 10, x + 20, 60)),
                    )
    return path


def make_runs_zip(path, n_runs=3, n_way=4, prefix=""):
    """A zip file in the layout of all_runs.zip; answers are a permutation."""
    rng = np.random.default_rng(0)
    answers = []
    with zipfile.ZipFile(path, "w") as z:
        for r in range(1, n_runs + 1):
            run = f"run{r:02d}"
            perm = rng.permutation(n_way)
            answers.append(perm)
            lines = []
            for k in range(n_way):
                # class k: a bar at height 20 k; its test item is a shifted copy.
                z.writestr(
                    f"{prefix}{run}/training/class{k + 1:02d}.png",
                    png_bytes(box(10, 20 * k, 90, 20 * k + 12)),
                )
            for i, k in enumerate(perm):
                z.writestr(
                    f"{prefix}{run}/test/item{i + 1:02d}.png",
                    png_bytes(box(14, 20 * k + 2, 94, 20 * k + 14)),
                )
                lines.append(
                    f"{run}/test/item{i + 1:02d}.png "
                    f"{run}/training/class{k + 1:02d}.png"
                )
            z.writestr(f"{prefix}{run}/class_labels.txt", "\n".join(lines) + "\n")
    return np.array(answers)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def synthetic_evaluation(tmp_path):
    """A data_home holding a small images_evaluation.zip of the release's layout."""
    make_omniglot_zip(
        tmp_path / "images_evaluation.zip", "images_evaluation", {"Alpha": 3, "Beta": 2}
    )
    return tmp_path


# -- fetch_omniglot on the real small background sets ------------------------
@pytest.mark.parametrize("subset", sorted(SMALL_SETS))
def test_fetch_omniglot_small_sets(shared_data, tmp_path, subset):
    filename, n_chars, alphabets = SMALL_SETS[subset]
    shutil.copy(shared_data / "omniglot" / filename, tmp_path)

    bunch = fetch_omniglot(subset, data_home=tmp_path, download_if_missing=False)

    n = 20 * n_chars
    assert bunch.images.shape == (n, 28, 28)
    assert bunch.images.dtype == np.float32
    assert bunch.data.shape == (n, 28 * 28)
    assert_array_equal(bunch.data, bunch.images.reshape(n, -1))
    assert 0 <= bunch.images.min() and bunch.images.max() <= 1
    # Ink is 1: strokes cover a small part of the page.
    assert 0.03 < bunch.images.mean() < 0.15
    assert (bunch.images[:, 0, :] < 0.5).mean() > 0.95
    assert_array_equal(np.bincount(bunch.target), np.full(n_chars, 20))
    assert len(bunch.target_names) == n_chars
    assert bunch.alphabet_names.tolist() == alphabets
    assert bunch.groups is bunch.alphabet
    assert bunch.target_names[bunch.target[0]].startswith(alphabets[0] + "/character")
    # All images of a character come from one alphabet.
    for t in range(n_chars):
        assert len(np.unique(bunch.groups[bunch.target == t])) == 1
    assert_array_equal(np.bincount(bunch.drawer), np.full(20, n_chars))
    assert f"{n} images" in bunch.DESCR.replace("\n", " ")


def test_fetch_omniglot_caches_decoded_arrays(shared_data, tmp_path, monkeypatch):
    # A data folder that links to the release's zip file (in omniglot/, as in
    # the shared folder) is used as it is: nothing is downloaded.
    linked = tmp_path / "linked"
    (linked / "omniglot").mkdir(parents=True)
    zip_name = "images_background_small1.zip"
    (linked / "omniglot" / zip_name).symlink_to(shared_data / "omniglot" / zip_name)
    first = fetch_omniglot(
        "background_small1",
        data_home=linked,
        download_if_missing=False,
        image_size=None,
    )
    assert first.images.shape == (2720, 105, 105)
    assert set(np.unique(first.images)) == {0.0, 1.0}
    cache = linked / "omniglot" / "images_background_small1_original.npz"
    assert sorted(p.name for p in cache.parent.iterdir()) == [zip_name, cache.name]
    second = fetch_omniglot("background_small1", data_home=linked, image_size=None)
    for key in ("images", "target", "groups", "drawer", "target_names"):
        assert_array_equal(second[key], first[key])

    # Where the cache cannot be written (a read-only folder), the arrays are
    # decoded each time and nothing is left behind.
    def read_only(*args, **kwargs):
        raise PermissionError("read-only file system")

    shutil.copy(shared_data / "omniglot" / zip_name, tmp_path)
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    third = fetch_omniglot("background_small1", data_home=tmp_path, image_size=None)
    assert_array_equal(third.images, first.images)
    assert sorted(p.name for p in tmp_path.iterdir()) == [zip_name, "linked"]


def test_public_names():
    assert sorted(datasets.__all__) == [
        "evaluate_one_shot_runs",
        "fetch_omniglot",
        "fetch_omniglot_one_shot",
        "get_data_home",
        "load_image_folder",
        "load_sick",
        "make_generator_classes",
    ]
    for name in datasets.__all__:
        assert callable(getattr(datasets, name))


def test_fetch_omniglot_resizes_by_averaging(synthetic_evaluation):
    full = fetch_omniglot("evaluation", data_home=synthetic_evaluation, image_size=None)
    small = fetch_omniglot(
        "evaluation", data_home=synthetic_evaluation, image_size=(21, 35)
    )
    assert full.images.shape == (10, 105, 105)
    assert small.images.shape == (10, 21, 35)
    # Box averaging keeps the share of ink (exactly, as 105 = 5 x 21 = 3 x 35).
    assert_array_equal(
        small.images.mean(axis=(1, 2)).round(5), full.images.mean(axis=(1, 2)).round(5)
    )
    assert fetch_omniglot(
        "evaluation", data_home=synthetic_evaluation, image_size=7
    ).images.shape == (10, 7, 7)


def test_fetch_omniglot_synthetic_layout(synthetic_evaluation):
    bunch = fetch_omniglot("evaluation", data_home=synthetic_evaluation)
    assert bunch.target_names.tolist() == [
        "Alpha/character01",
        "Alpha/character02",
        "Alpha/character03",
        "Beta/character01",
        "Beta/character02",
    ]
    assert_array_equal(bunch.target, np.repeat(np.arange(5), 2))
    assert_array_equal(bunch.groups, [0] * 6 + [1] * 4)
    assert_array_equal(bunch.drawer, np.tile([0, 1], 5))
    X, y = fetch_omniglot("evaluation", data_home=synthetic_evaluation, return_X_y=True)
    assert_array_equal(X, bunch.data)
    assert_array_equal(y, bunch.target)


def test_fetch_omniglot_cache_follows_the_zip(synthetic_evaluation):
    path = synthetic_evaluation / "images_evaluation.zip"
    before = fetch_omniglot("evaluation", data_home=synthetic_evaluation)
    make_omniglot_zip(path, "images_evaluation", {"Gamma": 1}, n_drawers=3, offset=7)
    after = fetch_omniglot("evaluation", data_home=synthetic_evaluation)
    assert len(before.target) == 10
    assert after.target_names.tolist() == ["Gamma/character01"]
    assert after.images.shape == (3, 28, 28)


def test_fetch_omniglot_from_extracted_folder(synthetic_evaluation, tmp_path_factory):
    from_zip = fetch_omniglot("evaluation", data_home=synthetic_evaluation)
    home = tmp_path_factory.mktemp("extracted")
    with zipfile.ZipFile(synthetic_evaluation / "images_evaluation.zip") as z:
        z.extractall(home / "omniglot")
    from_folder = fetch_omniglot(
        "evaluation", data_home=home, download_if_missing=False
    )
    for key in ("images", "target", "groups", "drawer", "target_names"):
        assert_array_equal(from_folder[key], from_zip[key])


def test_fetch_omniglot_uses_environment_variable(synthetic_evaluation, monkeypatch):
    monkeypatch.setenv("SKSIAMESE_DATA", str(synthetic_evaluation))
    assert get_data_home() == str(synthetic_evaluation)
    bunch = fetch_omniglot("evaluation", download_if_missing=False)
    assert len(bunch.target) == 10
    assert get_data_home("~/elsewhere").endswith("elsewhere")
    assert not get_data_home("~/elsewhere").startswith("~")


def test_get_data_home_default(monkeypatch, tmp_path):
    monkeypatch.delenv("SKSIAMESE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == str(tmp_path / "sksiamese_data")
    assert not (tmp_path / "sksiamese_data").exists()


def test_fetch_omniglot_missing_file_error(tmp_path):
    target = tmp_path / "omniglot" / "images_background.zip"
    with pytest.raises(FileNotFoundError, match="found no images_background.zip") as e:
        fetch_omniglot(data_home=tmp_path, download_if_missing=False)
    assert f"put it at {target}" in str(e.value)
    assert (
        "https://github.com/brendenlake/omniglot/raw/master/python/"
        "images_background.zip" in str(e.value)
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("subset", ["images_background", "all", "Background"])
def test_fetch_omniglot_bad_subset(tmp_path, subset):
    with pytest.raises(
        ValueError,
        match="subset must be one of 'background', "
        f"'evaluation', 'background_small1', 'background_small2'; "
        f"got '{subset}'",
    ):
        fetch_omniglot(subset, data_home=tmp_path)


@pytest.mark.parametrize("size", [0, -3, (28,), (28, 0), 2.5, "28", True])
def test_bad_image_size(synthetic_evaluation, size):
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        fetch_omniglot("evaluation", data_home=synthetic_evaluation, image_size=size)


def test_fetch_omniglot_corrupt_zip(tmp_path):
    (tmp_path / "images_evaluation.zip").write_bytes(b"not a zip file")
    with pytest.raises(OSError, match="is not a valid zip file .*Delete it"):
        fetch_omniglot("evaluation", data_home=tmp_path)


def test_fetch_omniglot_wrong_layout(tmp_path):
    with zipfile.ZipFile(tmp_path / "images_evaluation.zip", "w") as z:
        z.writestr(
            "images_evaluation/Alpha/character01/a.png", png_bytes(box(1, 1, 9, 9))
        )
    with pytest.raises(
        ValueError,
        match="does not have the layout of the Omniglot "
        "release .*found images_evaluation/Alpha/character01/a.png",
    ):
        fetch_omniglot("evaluation", data_home=tmp_path)


def test_fetch_omniglot_needs_pillow(synthetic_evaluation, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(
        ImportError,
        match="fetch_omniglot needs Pillow to decode "
        "images. Install it with `pip install Pillow`",
    ):
        fetch_omniglot("evaluation", data_home=synthetic_evaluation)


# -- downloads (local file:// URLs, never the network) ------------------------
@pytest.fixture
def local_release(tmp_path, monkeypatch):
    """Point the "evaluation" subset at a local zip file; return its path."""
    source = tmp_path / "release" / "images_evaluation.zip"
    source.parent.mkdir()
    make_omniglot_zip(source, "images_evaluation", {"Alpha": 2})
    remote = omniglot._ARCHIVES["evaluation"]._replace(
        url=source.as_uri(), sha256=sha256(source), size=source.stat().st_size
    )
    monkeypatch.setitem(omniglot._ARCHIVES, "evaluation", remote)
    return source


def test_download_verifies_and_saves(local_release, tmp_path):
    home = tmp_path / "home"
    bunch = fetch_omniglot("evaluation", data_home=home)
    saved = home / "omniglot" / "images_evaluation.zip"
    assert saved.read_bytes() == local_release.read_bytes()
    assert sorted(p.name for p in saved.parent.iterdir()) == [
        "images_evaluation.zip",
        "images_evaluation_28x28.npz",
    ]
    assert len(bunch.target) == 4
    # The second call finds the file: the source may vanish.
    local_release.unlink()
    assert len(fetch_omniglot("evaluation", data_home=home).target) == 4


def test_download_checksum_mismatch_leaves_nothing(
    local_release, tmp_path, monkeypatch
):
    remote = omniglot._ARCHIVES["evaluation"]._replace(sha256="0" * 64)
    monkeypatch.setitem(omniglot._ARCHIVES, "evaluation", remote)
    home = tmp_path / "home"
    with pytest.raises(
        OSError,
        match=f"has SHA-256 {sha256(local_release)}, not "
        f"the expected {'0' * 64}: the download is corrupt",
    ):
        fetch_omniglot("evaluation", data_home=home)
    # Nothing left: no partial file, nor the folders made for it.
    assert not home.exists()


def test_interrupted_download_leaves_nothing(local_release, tmp_path, monkeypatch):
    class Broken:
        def __init__(self):
            self.calls = 0

        def read(self, n):
            self.calls += 1
            if self.calls > 1:
                raise ConnectionResetError("connection reset by peer")
            return b"PK\x03\x04 partial"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(_base, "urlopen", lambda url, timeout: Broken())
    home = tmp_path / "home"
    with pytest.raises(ConnectionResetError):
        fetch_omniglot("evaluation", data_home=home)
    # Nothing left: no partial file, nor the folders made for it.
    assert not home.exists()


def test_download_unreachable(local_release, tmp_path):
    local_release.unlink()
    home = tmp_path / "home"
    with pytest.raises(
        OSError,
        match="Could not download file://.*Check the network "
        "connection, or download the file by hand and put it at",
    ):
        fetch_omniglot("evaluation", data_home=home)
    # Nothing left: no partial file, nor the folders made for it.
    assert not home.exists()


def test_no_download_when_disallowed(local_release, tmp_path):
    with pytest.raises(FileNotFoundError, match="download_if_missing=True"):
        fetch_omniglot(
            "evaluation", data_home=tmp_path / "home", download_if_missing=False
        )
    assert not (tmp_path / "home").exists()


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_download_and_cache_get_the_umask_permissions(local_release, tmp_path,
                                                      umask):
    # mkstemp makes 0600 files; those of a shared data folder must be as
    # readable as a plain open makes them.
    home = tmp_path / "home"
    fetch_omniglot("evaluation", data_home=home)
    saved = home / "omniglot" / "images_evaluation.zip"
    cache = home / "omniglot" / "images_evaluation_28x28.npz"
    for path in (saved, cache):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
    for folder in (home, home / "omniglot"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask, folder
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name, cache.name]


def test_a_failed_download_keeps_the_folders_it_did_not_make(local_release,
                                                             tmp_path):
    local_release.unlink()
    home = tmp_path / "home"
    (home / "omniglot").mkdir(parents=True)
    (home / "other.txt").write_text("kept")
    with pytest.raises(OSError, match="Could not download"):
        fetch_omniglot("evaluation", data_home=home)
    # The data home and its omniglot folder existed: they stay, untouched.
    assert sorted(p.name for p in home.iterdir()) == ["omniglot", "other.txt"]
    assert list((home / "omniglot").iterdir()) == []
    # Only the missing part of the path goes: the omniglot folder, not home.
    (home / "omniglot").rmdir()
    with pytest.raises(OSError, match="Could not download"):
        fetch_omniglot("evaluation", data_home=home)
    assert sorted(p.name for p in home.iterdir()) == ["other.txt"]


# -- the one-shot runs --------------------------------------------------------
def test_fetch_omniglot_one_shot(tmp_path):
    answers = make_runs_zip(tmp_path / "all_runs.zip")
    runs = fetch_omniglot_one_shot(data_home=tmp_path, download_if_missing=False)
    assert runs.support_images.shape == (3, 4, 28, 28)
    assert runs.query_images.shape == (3, 4, 28, 28)
    assert runs.support_images.dtype == np.float32
    assert_array_equal(runs.query_target, answers)
    assert runs.run_names.tolist() == ["run01", "run02", "run03"]
    assert runs.support_names[1, 2] == "run02/training/class03.png"
    assert runs.query_names[2, 0] == "run03/test/item01.png"
    # Class k is a bar at rows 20k..20k+12 of 105, ink 1.
    rows = runs.support_images[0, 3].mean(axis=1)
    assert rows[int(28 * 65 / 105)] > 0.5 and rows[int(28 * 30 / 105)] == 0
    assert "3 runs" in runs.DESCR

    result = evaluate_one_shot_runs(None, runs)
    assert_array_equal(result.predictions, answers)
    assert_array_equal(result.errors, [0, 0, 0])
    assert result.mean_error == 0.0


def test_one_shot_runs_nested_folder_and_image_size(tmp_path):
    answers = make_runs_zip(
        tmp_path / "all_runs.zip", n_runs=2, n_way=3, prefix="all_runs/"
    )
    runs = fetch_omniglot_one_shot(data_home=tmp_path, image_size=None)
    assert runs.query_images.shape == (2, 3, 105, 105)
    assert_array_equal(runs.query_target, answers)


def test_one_shot_runs_from_extracted_folder(tmp_path):
    answers = make_runs_zip(tmp_path / "runs.zip", n_runs=2)
    with zipfile.ZipFile(tmp_path / "runs.zip") as z:
        z.extractall(tmp_path / "omniglot" / "all_runs")
    runs = fetch_omniglot_one_shot(data_home=tmp_path, download_if_missing=False)
    assert_array_equal(runs.query_target, answers)


def test_one_shot_runs_bad_labels(tmp_path):
    with zipfile.ZipFile(tmp_path / "all_runs.zip", "w") as z:
        z.writestr("run01/training/class01.png", png_bytes(box(1, 1, 9, 9)))
        z.writestr("run01/test/item01.png", png_bytes(box(1, 1, 9, 9)))
        z.writestr(
            "run01/class_labels.txt",
            "run01/test/item01.png run01/training/class02.png\n",
        )
    with pytest.raises(
        ValueError,
        match="Line 1 of run01/class_labels.txt should "
        "name a test image and one of the run's training images",
    ):
        fetch_omniglot_one_shot(data_home=tmp_path)


def test_one_shot_runs_missing_error(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="fetch_omniglot_one_shot found no all_runs.zip"
    ):
        fetch_omniglot_one_shot(data_home=tmp_path, download_if_missing=False)


class Recorder:
    """A fitted transformer stand-in that records the shape it is given."""

    def __init__(self, n_features_in, distance=None):
        self.n_features_in_ = n_features_in
        if distance is not None:
            self.distance = distance

    def transform(self, X):
        self.seen_shape_ = X.shape
        return X.reshape(len(X), -1)


def test_evaluate_flattens_unless_fitted_on_images(tmp_path):
    make_runs_zip(tmp_path / "all_runs.zip", n_runs=2)
    runs = fetch_omniglot_one_shot(data_home=tmp_path, image_size=20)
    flat, images = Recorder(400), Recorder(20)
    evaluate_one_shot_runs(flat, runs)
    evaluate_one_shot_runs(images, runs)
    assert flat.seen_shape_ == (16, 400)
    assert images.seen_shape_ == (16, 20, 20)
    forced = Recorder(20)
    evaluate_one_shot_runs(forced, runs, flatten=True)
    assert forced.seen_shape_ == (16, 400)

    pca = PCA(n_components=3).fit(runs.support_images.reshape(8, -1))
    assert evaluate_one_shot_runs(pca, runs).errors.shape == (2,)


def test_evaluate_uses_transformer_distance():
    # The query [100, 1] is nearer [10, 1] (euclidean) but points the way of
    # [1, 0] (cosine).
    runs = Bunch(
        support_images=np.array([[[[1.0, 0.0]], [[10.0, 1.0]]]]),
        query_images=np.array([[[[100.0, 1.0]]]]),
        query_target=np.array([[0]]),
    )
    cosine = evaluate_one_shot_runs(Recorder(1, distance="cosine"), runs)
    assert_array_equal(cosine.predictions, [[0]])
    assert cosine.mean_error == 0.0
    euclid = evaluate_one_shot_runs(
        Recorder(1, distance="cosine"), runs, distance="euclidean"
    )
    assert_array_equal(euclid.predictions, [[1]])
    assert euclid.mean_error == 1.0
    assert_array_equal(evaluate_one_shot_runs(Recorder(1), runs).predictions, [[1]])


def test_evaluate_errors():
    runs = Bunch(
        support_images=np.zeros((2, 3, 4, 4)),
        query_images=np.zeros((2, 5, 4, 4)),
        query_target=np.zeros((2, 3), dtype=int),
    )
    with pytest.raises(
        ValueError,
        match=r"runs.query_target should have shape "
        r"\(2, 5\), one entry per query image; got shape \(2, 3\)",
    ):
        evaluate_one_shot_runs(None, runs)
    runs.query_target = np.zeros((2, 5), dtype=int)
    with pytest.raises(
        TypeError,
        match="transformer must have a transform method "
        r"\(a fitted SiameseTransformer, a Pipeline, ...\) or be "
        "None for raw pixels; got 'raw'",
    ):
        evaluate_one_shot_runs("raw", runs)
    with pytest.raises(
        ValueError,
        match="distance must be one of 'euclidean', 'cosine'; got 'manhattan'",
    ):
        evaluate_one_shot_runs(None, runs, distance="manhattan")


# -- load_image_folder --------------------------------------------------------
def save(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def test_load_image_folder(tmp_path):
    save(tmp_path / "b" / "1.png", Image.new("L", (6, 4), 0))
    save(tmp_path / "b" / "sub" / "2.PNG", Image.new("L", (6, 4), 255))
    save(tmp_path / "a" / "x.jpg", Image.new("RGB", (6, 4), (255, 0, 0)))
    save(tmp_path / "a" / ".hidden.png", Image.new("L", (6, 4), 0))
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "empty").mkdir()
    save(tmp_path / ".git" / "x.png", Image.new("L", (6, 4), 0))

    bunch = load_image_folder(tmp_path)
    assert bunch.images.shape == (3, 4, 6)
    assert bunch.images.dtype == np.float32
    assert bunch.target_names.tolist() == ["a", "b"]
    assert_array_equal(bunch.target, [0, 1, 1])
    assert [p.split("/")[-1] for p in bunch.filenames] == ["x.jpg", "1.png", "2.PNG"]
    assert_array_equal(bunch.images[1:].mean(axis=(1, 2)), [0.0, 1.0])
    # Red converts to the luma value 76 / 255.
    assert bunch.images[0].mean() == pytest.approx(76 / 255, abs=1e-6)
    assert_array_equal(bunch.data, bunch.images.reshape(3, -1))

    inverted = load_image_folder(tmp_path, invert=True)
    assert_array_equal(inverted.images, 1 - bunch.images)
    rgb = load_image_folder(tmp_path, color_mode="rgb", image_size=(2, 3))
    assert rgb.images.shape == (3, 2, 3, 3)
    # (JPEG stores red as 254, 0, 0.)
    assert_allclose(rgb.images[0, 0, 0], [1.0, 0.0, 0.0], atol=0.01)
    X, y = load_image_folder(tmp_path, return_X_y=True, extensions=(".png",))
    assert X.shape == (2, 24)
    assert_array_equal(y, [0, 0])


def test_load_image_folder_errors(tmp_path):
    save(tmp_path / "a" / "1.png", Image.new("L", (6, 4)))
    save(tmp_path / "b" / "2.png", Image.new("L", (5, 5)))
    with pytest.raises(
        ValueError,
        match=r"The images have different sizes \(.*1.png: "
        r"\(4, 6\), .*2.png: \(5, 5\)\); pass image_size",
    ):
        load_image_folder(tmp_path)
    assert load_image_folder(tmp_path, image_size=5).images.shape == (2, 5, 5)
    with pytest.raises(ValueError, match="color_mode must be 'grayscale' or 'rgb'"):
        load_image_folder(tmp_path, color_mode="RGB")
    with pytest.raises(
        FileNotFoundError,
        match="is not a folder. load_image_folder "
        "expects a folder with one sub-folder of images per class",
    ):
        load_image_folder(tmp_path / "a" / "1.png")
    (tmp_path / "c" / "d").mkdir(parents=True)
    with pytest.raises(ValueError, match="has no class folders with images"):
        load_image_folder(tmp_path / "c")
    (tmp_path / "a" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(OSError, match="Cannot decode the image .*bad.png"):
        load_image_folder(tmp_path, image_size=5)


def test_load_image_folder_scales_by_each_image_own_range(tmp_path):
    # Mid-grey is 0.5 whatever the bit depth: 8-bit 128 / 255, 16-bit
    # 32768 / 65535, float 0.5 as it is.
    save(tmp_path / "a" / "8bit.png", Image.new("L", (6, 4), 128))
    save(
        tmp_path / "a" / "16bit.png",
        Image.fromarray(np.full((4, 6), 32768, dtype=np.uint16)),
    )
    save(
        tmp_path / "b" / "float.tif",
        Image.fromarray(np.full((4, 6), 0.5, dtype=np.float32)),
    )
    bunch = load_image_folder(tmp_path)
    assert [p.split("/")[-1] for p in bunch.filenames] == [
        "16bit.png",
        "8bit.png",
        "float.tif",
    ]
    assert_allclose(
        bunch.images.mean(axis=(1, 2)), [32768 / 65535, 128 / 255, 0.5], rtol=1e-6
    )
    resized = load_image_folder(tmp_path, image_size=2, color_mode="rgb")
    assert resized.images.shape == (3, 2, 2, 3)
    assert_allclose(resized.images, 0.5, atol=0.003)


def test_load_image_folder_refuses_pixels_of_unknown_range(tmp_path):
    save(
        tmp_path / "a" / "bright.tif",
        Image.fromarray(np.full((4, 6), 1.5, dtype=np.float32)),
    )
    with pytest.raises(
        ValueError,
        match=r"bright.tif holds float values outside "
        r"\[0, 1\] \(from 1.5 to 1.5\); rescale it",
    ):
        load_image_folder(tmp_path)
    (tmp_path / "a" / "bright.tif").unlink()
    save(
        tmp_path / "a" / "int32.tif",
        Image.fromarray(np.full((4, 6), 7, dtype=np.int32)),
    )
    with pytest.raises(
        ValueError, match="int32.tif holds 32-bit integers, whose range is unknown"
    ):
        load_image_folder(tmp_path)


def test_load_image_folder_extensions(tmp_path):
    save(tmp_path / "a" / "1.png", Image.new("L", (6, 4), 0))
    save(tmp_path / "a" / "2.jpg", Image.new("L", (6, 4), 0))
    # A single string is one ending, not a sequence of letters.
    only_png = load_image_folder(tmp_path, extensions=".PNG")
    assert [p.split("/")[-1] for p in only_png.filenames] == ["1.png"]
    for bad in ["png", ("png", ".jpg"), (), 3, (".png", None)]:
        with pytest.raises(
            ValueError,
            match="extensions must be a file name "
            "ending such as '.png', or a tuple of them",
        ):
            load_image_folder(tmp_path, extensions=bad)


@pytest.mark.parametrize("size", [10**5, (28, 1025)])
def test_image_size_is_bounded(synthetic_evaluation, tmp_path, size):
    with pytest.raises(ValueError, match="image_size sides must be at most 1024"):
        fetch_omniglot("evaluation", data_home=synthetic_evaluation, image_size=size)
    save(tmp_path / "a" / "1.png", Image.new("L", (6, 4), 0))
    with pytest.raises(ValueError, match="image_size sides must be at most 1024"):
        load_image_folder(tmp_path, image_size=size)


# -- archives that are not the release's --------------------------------------
MEMBER = "images_evaluation/Alpha/character01/0001_01.png"


def test_oversized_members_are_refused_before_decompressing(tmp_path, monkeypatch):
    # 2 MB of zeros deflate to 2 kB: the zip directory's declared size is
    # what tells.
    with zipfile.ZipFile(
        tmp_path / "images_evaluation.zip", "w", zipfile.ZIP_DEFLATED
    ) as z:
        z.writestr(MEMBER, bytes(2 << 20))
    assert (tmp_path / "images_evaluation.zip").stat().st_size < 10_000

    def no_decompressing(*args, **kwargs):
        raise AssertionError("a member was decompressed")

    with monkeypatch.context() as m:
        m.setattr(zipfile.ZipFile, "open", no_decompressing)
        with pytest.raises(
            ValueError,
            match=f"{MEMBER} in .*images_evaluation.zip "
            "declares 2097152 bytes, more than the 1048576",
        ):
            fetch_omniglot("evaluation", data_home=tmp_path)

    # A small file can hold a huge image: its size is read from the header
    # before its pixels are.
    huge = png_bytes(box(0, 0, 9, 9), size=(5000, 5000), mode="L")
    assert len(huge) < 1 << 20
    with zipfile.ZipFile(tmp_path / "images_evaluation.zip", "w") as z:
        z.writestr(MEMBER, huge)
    with pytest.raises(
        ValueError, match="0001_01.png is 5000x5000 pixels, more than the 1024 a side"
    ):
        fetch_omniglot("evaluation", data_home=tmp_path)


def corrupt_member(path, name, offset, value):
    """Overwrite one byte of the compressed data of ``name`` in the zip ``path``."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    raw = bytearray(path.read_bytes())
    header = info.header_offset
    n_name, n_extra = np.frombuffer(bytes(raw[header + 26 : header + 30]), "<u2")
    raw[header + 30 + n_name + n_extra + offset] = value
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "offset, value",
    [
        (0, 0xFF),  # an invalid deflate block type: zlib's error
        (40, 0x00),  # a changed byte inside the data: a CRC mismatch
    ],
)
def test_corrupt_member_names_archive_and_member(tmp_path, offset, value):
    path = tmp_path / "images_evaluation.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MEMBER, png_bytes(box(5, 5, 50, 50), mode="L") * 4)
    corrupt_member(path, MEMBER, offset, value)
    with pytest.raises(
        ValueError,
        match=f"{MEMBER} in .*images_evaluation.zip "
        r"cannot be read \(.*\): the archive is corrupt",
    ):
        fetch_omniglot("evaluation", data_home=tmp_path)


def runs_zip_with_labels(path, labels):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("run01/training/class01.png", png_bytes(box(1, 1, 9, 9)))
        z.writestr("run01/test/item01.png", png_bytes(box(1, 1, 9, 9)))
        z.writestr("run01/class_labels.txt", labels)


@pytest.mark.parametrize(
    "labels, message",
    [
        (
            b"\xffrun01/test/item01.png run01/training/class01.png\n",
            "run01/class_labels.txt in .*all_runs.zip is not UTF-8 text",
        ),
        (
            "run01/test/item02.png run01/training/class01.png\n",
            "Line 1 of run01/class_labels.txt in .*all_runs.zip names the test image "
            "run01/test/item02.png, which the archive does not hold",
        ),
        ("", "run01/class_labels.txt in .*all_runs.zip names no test images"),
        ("\n  \n", "run01/class_labels.txt in .*all_runs.zip names no test images"),
    ],
)
def test_one_shot_runs_bad_label_files(tmp_path, labels, message):
    runs_zip_with_labels(tmp_path / "all_runs.zip", labels)
    with pytest.raises(ValueError, match=message):
        fetch_omniglot_one_shot(data_home=tmp_path)


# -- the decoded cache ----------------------------------------------------------
def test_cache_follows_the_zip_content_not_its_size_and_time(synthetic_evaluation):
    path = synthetic_evaluation / "images_evaluation.zip"
    before = fetch_omniglot("evaluation", data_home=synthetic_evaluation)
    stat = path.stat()
    # Another release of the same size and time: the zip comment pads it.
    make_omniglot_zip(path, "images_evaluation", {"Gamma": 4}, offset=3)
    shortfall = stat.st_size - path.stat().st_size
    assert 0 < shortfall < 65535
    with zipfile.ZipFile(path, "a") as z:
        z.comment = b"x" * shortfall
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (
        stat.st_size,
        stat.st_mtime_ns,
    )

    after = fetch_omniglot("evaluation", data_home=synthetic_evaluation)
    assert before.alphabet_names.tolist() == ["Alpha", "Beta"]
    assert after.alphabet_names.tolist() == ["Gamma"]
    assert after.images.shape == (8, 28, 28)


def drop_ink(arrays):
    del arrays["ink"]


def crop_ink(arrays):
    arrays["ink"] = arrays["ink"][:, :20, :20]


def ink_as_floats(arrays):
    arrays["ink"] = arrays["ink"] / 255


def shorten_target(arrays):
    arrays["target"] = arrays["target"][:-1]


def drop_names(arrays):
    arrays["target_names"] = arrays["target_names"][:1]


@pytest.mark.parametrize(
    "tamper", [drop_ink, crop_ink, ink_as_floats, shorten_target, drop_names]
)
def test_a_damaged_cache_is_rebuilt(synthetic_evaluation, tamper):
    fresh = fetch_omniglot("evaluation", data_home=synthetic_evaluation)
    cache = synthetic_evaluation / "images_evaluation_28x28.npz"
    with np.load(cache) as cached:
        arrays = dict(cached)
    tamper(arrays)
    np.savez_compressed(cache, **arrays)

    again = fetch_omniglot("evaluation", data_home=synthetic_evaluation)
    for key in ("images", "target", "groups", "drawer", "target_names"):
        assert_array_equal(again[key], fresh[key])
    with np.load(cache) as cached:
        assert cached["ink"].shape == (10, 28, 28)  # rewritten whole


def test_the_package_has_no_import_cycle():
    # Every import between the package's modules, function-level ones too,
    # goes one way: the modules never import the package or each other back.
    folder = Path(datasets.__file__).parent
    imports = {}
    for path in folder.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found.add(node.module or "__init__")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "sksiamese.datasets"
            ):
                found.add(
                    node.module.removeprefix("sksiamese.datasets").lstrip(".")
                    or "__init__"
                )
        imports[path.stem] = found
    assert set(imports) == {"__init__", "_base", "images", "omniglot", "sick",
                            "synthetic"}
    assert all("__init__" not in found for found in imports.values())
    order = []  # modules in an order where each comes after what it imports
    while len(order) < len(imports):
        ready = [
            m for m in sorted(imports) if m not in order and imports[m] <= set(order)
        ]
        assert ready, f"import cycle among {set(imports) - set(order)}"
        order += ready
    assert order[0] == "_base" and order[-1] == "__init__"


# -- generated classes ------------------------------------------------------------
def test_generator_classes_are_a_fair_held_out_class_task():
    from sksiamese.datasets import make_generator_classes
    from sksiamese.metrics import n_way_k_shot_accuracy

    X, y = make_generator_classes(n_classes=40, samples_per_class=10, random_state=0)
    assert X.shape == (400, 96) and X.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(y), np.full(40, 10))
    again, _ = make_generator_classes(n_classes=40, samples_per_class=10,
                                      random_state=0)
    np.testing.assert_array_equal(X, again)
    # Raw features classify new classes above chance (0.2), far from perfectly.
    acc = n_way_k_shot_accuracy(None, X, y, n_way=5, n_episodes=300, random_state=0)
    assert 0.3 < acc < 0.8


@pytest.mark.parametrize("params, message", [
    ({"n_classes": 1}, "n_classes must be a number >= 2; got 1"),
    ({"jitter": -1.0}, "jitter must be a number >= 0; got -1.0"),
    ({"samples_per_class": 2.5}, "samples_per_class must be a number >= 1"),
])
def test_generator_classes_bad_parameters(params, message):
    from sksiamese.datasets import make_generator_classes

    with pytest.raises(ValueError, match=re.escape(message)):
        make_generator_classes(**params)


def _toy_runs(**changes):
    rng = np.random.default_rng(0)
    support = rng.random((2, 3, 4, 4), dtype=np.float32)
    runs = Bunch(support_images=support, query_images=support + 0.01,
                 query_target=np.tile(np.arange(3), (2, 1)))
    runs.update(changes)
    return runs


@pytest.mark.parametrize("target", [[[0, 1, 99], [0, 1, 2]], [[0, 1, -1], [0, 1, 2]]])
def test_evaluate_one_shot_runs_refuses_out_of_range_targets(target):
    with pytest.raises(ValueError, match=r"integers from 0 to 2; got values from"):
        evaluate_one_shot_runs(None, _toy_runs(query_target=np.array(target)))


def test_evaluate_one_shot_runs_refuses_malformed_runs():
    runs = _toy_runs()
    del runs["query_target"]
    with pytest.raises(ValueError, match=r"runs has no query_target"):
        evaluate_one_shot_runs(None, runs)
    with pytest.raises(ValueError, match=r"should hold queries for each of the 2 runs"):
        evaluate_one_shot_runs(None, _toy_runs(query_images=np.zeros((2, 0, 4, 4)),
                                               query_target=np.zeros((2, 0), int)))
    with pytest.raises(ValueError, match=r"Support images are \(4, 4\) but query "
                                         r"images are \(5, 5\)"):
        evaluate_one_shot_runs(None, _toy_runs(query_images=np.zeros((2, 3, 5, 5))))


def test_one_shot_runs_refuse_a_test_image_answered_twice_differently(tmp_path):
    with zipfile.ZipFile(tmp_path / "all_runs.zip", "w") as z:
        z.writestr("run01/training/class01.png", png_bytes(box(1, 1, 9, 9)))
        z.writestr("run01/training/class02.png", png_bytes(box(1, 1, 19, 19)))
        z.writestr("run01/test/item01.png", png_bytes(box(1, 1, 9, 9)))
        z.writestr("run01/class_labels.txt",
                   "run01/test/item01.png run01/training/class01.png\n"
                   "run01/test/item01.png run01/training/class02.png\n")
    with pytest.raises(ValueError, match=r"Line 2 of run01/class_labels.txt in "
                                         r".*all_runs.zip answers the test image "
                                         r"run01/test/item01.png again"):
        fetch_omniglot_one_shot(data_home=tmp_path)


def test_omniglot_zip_with_a_repeated_member_is_refused(tmp_path):
    path = make_omniglot_zip(tmp_path / "images_evaluation.zip", "images_evaluation",
                             {"Alpha": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("images_evaluation/Alpha/character01/0001_01.png",
                       png_bytes(box(1, 1, 9, 9)))
    with pytest.raises(ValueError, match=r"holds 1 file name\(s\) more than once"):
        fetch_omniglot("evaluation", data_home=tmp_path)


def test_omniglot_drawer_outside_the_releases_twenty_is_refused(tmp_path):
    path = make_omniglot_zip(tmp_path / "images_evaluation.zip", "images_evaluation",
                             {"Alpha": 2})
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("images_evaluation/Alpha/character01/0001_99.png",
                   png_bytes(box(1, 1, 9, 9)))
    with pytest.raises(ValueError, match=r"whose drawer number 99 is not one of the "
                                         r"release's 20 drawers"):
        fetch_omniglot("evaluation", data_home=tmp_path)
