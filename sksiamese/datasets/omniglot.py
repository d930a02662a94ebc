"""Omniglot (Lake et al., 2015): its images, its 20-way one-shot runs, scoring."""

import contextlib
import os
import re
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .. import _distances
from ..metrics import _resolve_distance
from ._base import RemoteFile, file_sha256, locate, read_member, temp_file
from .images import check_image_size, decode, ink, pil_image, stack

__all__ = ["evaluate_one_shot_runs", "fetch_omniglot", "fetch_omniglot_one_shot"]

# The files of the official release (github.com/brendenlake/omniglot); the
# checksums are those of the files at commit ceffff1 (the current release).
_BASE_URL = "https://github.com/brendenlake/omniglot/raw/master/python/"
_ARCHIVES = {
    "background": RemoteFile(
        "images_background.zip",
        _BASE_URL + "images_background.zip",
        "ad41ab679c8b5d90b271ef46be6987cc81211774a695c29dcc5367b2b26ee640",
        9464212,
    ),
    "evaluation": RemoteFile(
        "images_evaluation.zip",
        _BASE_URL + "images_evaluation.zip",
        "1f61a8f3366785b057fc117d9228e78a16e3d976c8953b2a10fcc74cf0609cee",
        6462886,
    ),
    "background_small1": RemoteFile(
        "images_background_small1.zip",
        _BASE_URL + "images_background_small1.zip",
        "f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4",
        1319022,
    ),
    "background_small2": RemoteFile(
        "images_background_small2.zip",
        _BASE_URL + "images_background_small2.zip",
        "3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f",
        1580917,
    ),
    "one_shot_runs": RemoteFile(
        "all_runs.zip",
        _BASE_URL + "one-shot-classification/all_runs.zip",
        "437c1eeab0af8484112e1b4cc0f3d541ec727f7c47b9b202da738af9dfd6c325",
        352787,
    ),
}
OMNIGLOT_SUBSETS = (
    "background",
    "evaluation",
    "background_small1",
    "background_small2",
)

_CITATION = """\
Lake, B. M., Salakhutdinov, R. and Tenenbaum, J. B. (2015). Human-level
concept learning through probabilistic program induction. Science,
350(6266), 1332-1338. Data: https://github.com/brendenlake/omniglot (MIT
licence)."""

_OMNIGLOT_DESCR = """\
{title}
{underline}

Handwritten characters from {n_alphabets} alphabets: {n_classes} characters,
each drawn once by each of 20 people on Amazon Mechanical Turk, {n_samples}
images in all, here {height}x{width} pixels (the originals are 105x105, one
bit per pixel), with ink as 1.0 and paper as 0.0.

=================  ============================================================
images             float32 array of shape ({n_samples}, {height}, {width})
data               the images flattened, shape ({n_samples}, {n_features})
target             character id, 0 to {max_class}
groups, alphabet   alphabet id, 0 to {max_alphabet} (the same array; use it as
                   ``groups`` for class- or alphabet-disjoint folds and for
                   within-alphabet episodes)
drawer             which of the 20 people drew the image, 0 to 19
target_names       "Alphabet/characterNN" for each character id
alphabet_names     the name of each alphabet id
=================  ============================================================

The "background" set (30 alphabets) is for learning; the "evaluation" set
(20 other alphabets) is for one-shot tests on alphabets never seen. The
two small background sets hold five alphabets each (Greek and Latin are in
both); the one-shot runs of Lake et al. are drawn from the evaluation set.

Alphabets: {alphabets}.

{citation}
"""

_RUNS_DESCR = """\
Omniglot 20-way one-shot classification runs
=============================================

The benchmark of Lake et al. (2015): {n_runs} runs; in each, one image of each
of {n_way} characters from one alphabet of the evaluation set (the "training"
images, here ``support_images``) and {n_query} new images of the same
characters by other people (the "test" images, here ``query_images``) to
classify among them. Images are {height}x{width}, ink 1.0 on paper 0.0.

=================  ============================================================
support_images     float32 array of shape ({n_runs}, {n_way}, {height}, {width}),
                   runNN/training/classNN.png
query_images       float32 array of shape ({n_runs}, {n_query}, {height}, {width}),
                   runNN/test/itemNN.png
query_target       int array of shape ({n_runs}, {n_query}): for each query, the
                   index of its class among the run's support images, from
                   runNN/class_labels.txt
run_names          "run01", ...
support_names      file names of the support images, shape ({n_runs}, {n_way})
query_names        file names of the query images, shape ({n_runs}, {n_query})
=================  ============================================================

Reported errors (mean over the 20 runs): people 4.5%, Bayesian Program
Learning 3.3%, the Siamese ConvNet of Koch et al. (2015) 8.0%.

{citation}
"""


# -- the archives ---------------------------------------------------------------
class _Source:
    """PNG files read from a zip file or from the folder it was extracted to.

    Names are POSIX paths as inside the zip file: a folder ``images_background``
    yields ``images_background/Alphabet/character01/0001_01.png``; a folder
    ``all_runs`` (whose zip has no top folder) yields ``run01/...``.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._zip = None

    def __enter__(self):
        if self.path.is_file():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except zipfile.BadZipFile:
                raise OSError(
                    f"{self.path} is not a valid zip file (an incomplete copy?). "
                    "Delete it and call the fetcher again to download it, or "
                    "replace it with the file from the official release."
                ) from None
        return self

    def __exit__(self, *exc):
        if self._zip is not None:
            self._zip.close()

    def _root(self):
        return self.path if self.path.name == "all_runs" else self.path.parent

    def names(self, suffix):
        if self._zip is not None:
            names = [n for n in self._zip.namelist() if n.endswith(suffix)]
        else:
            root = self._root()
            names = [
                p.relative_to(root).as_posix() for p in self.path.rglob(f"*{suffix}")
            ]
        return sorted(n for n in names if not n.split("/")[-1].startswith("."))

    def read(self, name):
        if self._zip is not None:
            return read_member(
                self._zip, name, max_bytes=_MAX_FILE_BYTES, archive=self.path
            )
        path = self._root() / name
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise ValueError(
                f"{path} has {path.stat().st_size} bytes, more than the "
                f"{_MAX_FILE_BYTES} any file of Omniglot takes: it is not a file "
                "of the release. Replace it with the official one."
            )
        return path.read_bytes()


# -- Omniglot -----------------------------------------------------------------
# The release's largest file is under 1 kB (a 105x105 one-bit PNG); anything
# a thousand times larger is not one of its files.
_MAX_FILE_BYTES = 1 << 20
_OMNIGLOT_FILE = re.compile(r"(\d+)_(\d+)\.png$")


def _read_omniglot(source, size, Image):
    with _Source(source) as src:
        names = []
        for name in src.names(".png"):
            parts = name.split("/")
            if len(parts) < 3 or not _OMNIGLOT_FILE.match(parts[-1]):
                raise ValueError(
                    f"{source} does not have the layout of the Omniglot release "
                    "(<set>/<Alphabet>/characterNN/<id>_<drawer>.png): found "
                    f"{name}. Use load_image_folder for other image folders."
                )
            drawer = int(_OMNIGLOT_FILE.match(parts[-1]).group(2))
            if not 1 <= drawer <= 20:
                raise ValueError(
                    f"{source} holds {name}, whose drawer number {drawer} is not "
                    "one of the release's 20 drawers (01 to 20). Replace it with "
                    "the official release."
                )
            names.append(name)
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(
                f"{source} holds {len(repeated)} file name(s) more than once "
                f"({repeated[:3]}); an image would be counted twice. Replace it "
                "with the official release."
            )
        if not names:
            raise ValueError(f"{source} holds no PNG images.")
        keys = sorted((*n.split("/")[-3:], n) for n in names)
        pixels = [255 - decode(Image, src.read(k[3]), size, name=k[3]) for k in keys]
    pixels = stack(pixels, [k[3] for k in keys])
    alphabets = np.array([k[0] for k in keys])
    characters = np.array([f"{k[0]}/{k[1]}" for k in keys])
    alphabet_names, groups = np.unique(alphabets, return_inverse=True)
    target_names, target = np.unique(characters, return_inverse=True)
    drawer = np.array([int(_OMNIGLOT_FILE.match(k[2]).group(2)) - 1 for k in keys])
    return {
        "ink": pixels,
        "target": target.astype(np.int64),
        "groups": groups.astype(np.int64),
        "drawer": drawer.astype(np.int64),
        "target_names": target_names,
        "alphabet_names": alphabet_names,
    }


def _cache_path(source, size):
    tag = "original" if size is None else f"{size[0]}x{size[1]}"
    return source.with_name(f"{source.stem}_{tag}.npz")


# The cache is keyed on the archive's content, not its size and date: a zip
# file replaced by another of the same size and time must not give old arrays.
# Raise the version when the arrays a cache holds change.
_CACHE_VERSION = 2
_INT_ARRAYS = ("target", "groups", "drawer")
_NAME_ARRAYS = ("target_names", "alphabet_names")


def _cache_key(source):
    return np.array(f"v{_CACHE_VERSION} sha256:{file_sha256(source)}")


def _is_valid(arrays, size):
    """Whether cached arrays have the names, shapes and types a decode gives."""
    ink = arrays.get("ink")
    if ink is None or ink.dtype != np.uint8 or ink.ndim != 3 or not len(ink):
        return False
    if size is not None and ink.shape[1:] != size:
        return False
    for key in _INT_ARRAYS:
        a = arrays.get(key)
        if a is None or a.dtype != np.int64 or a.shape != (len(ink),) or a.min() < 0:
            return False
    for key in _NAME_ARRAYS:
        a = arrays.get(key)
        if a is None or a.dtype.kind != "U" or a.ndim != 1:
            return False
    return arrays["target"].max() < len(arrays["target_names"]) and arrays[
        "groups"
    ].max() < len(arrays["alphabet_names"])


def _load_cache(path, key, size):
    """The arrays cached at ``path`` for the archive ``key``; None if unusable."""
    try:
        with np.load(path, allow_pickle=False) as cached:
            if "key" not in cached.files or cached["key"] != key:
                return None
            arrays = {k: cached[k] for k in cached.files if k != "key"}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    return arrays if _is_valid(arrays, size) else None


def _save_cache(path, key, arrays):
    """Write the decoded arrays beside the zip file; skip where it cannot."""
    try:
        # With the umask's permissions, as the zip file beside it: readable
        # by the other users of a shared data folder.
        out, tmp = temp_file(path)
    except OSError:
        return  # a read-only data folder: decode again next time
    try:
        with out:
            np.savez_compressed(out, key=key, **arrays)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def fetch_omniglot(
    subset="background",
    *,
    data_home=None,
    download_if_missing=True,
    image_size=28,
    return_X_y=False,
):
    """Load the Omniglot handwritten characters (downloading them once).

    Omniglot (Lake et al., 2015) holds 1623 characters from 50 alphabets,
    each drawn by 20 people: few examples of many classes, the classic data
    for Siamese networks and one-shot learning. The zip files of the official
    release are downloaded from github.com/brendenlake/omniglot into
    ``data_home`` on first use, checked against their SHA-256, and decoded;
    the decoded arrays are cached beside the zip file, so later calls take
    well under a second.

    Where ``data_home`` (or its ``omniglot`` sub-folder) already holds the
    release's zip file under its own name (for example
    ``images_background.zip``), or the folder it extracts to, nothing is
    downloaded.

    Parameters
    ----------
    subset : {"background", "evaluation", "background_small1", \
            "background_small2"}, default="background"
        Which set: "background" (30 alphabets, 964 characters, 19280 images)
        is for training; "evaluation" (20 other alphabets, 659 characters,
        13180 images) for testing on alphabets never seen; the two small
        background sets (5 alphabets each, 2720 and 3120 images) are the
        "minimal" training sets of Lake et al.
    data_home : str or path-like, default=None
        Where to find or put the files. ``None`` means ``$SKSIAMESE_DATA`` or
        ``~/sksiamese_data`` (see :func:`get_data_home`).
    download_if_missing : bool, default=True
        If False, raise ``FileNotFoundError`` instead of downloading a file
        that is not there.
    image_size : int or tuple (height, width) or None, default=28
        Size the images are resized to (by averaging pixels). 28x28 is the
        size most few-shot work uses and keeps the background set at 60 MB;
        ``None`` keeps the original 105x105 (850 MB for the background set).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images : ndarray of shape (n_samples, height, width), dtype float32
            The images, ink 1.0 on paper 0.0.
        data : ndarray of shape (n_samples, height * width), dtype float32
            The images flattened (a view of ``images``).
        target : ndarray of shape (n_samples,)
            Character id, from 0 to ``n_characters - 1``.
        groups : ndarray of shape (n_samples,)
            Alphabet id, for alphabet-disjoint folds (``GroupKFold``) and
            within-alphabet episodes.
        alphabet : ndarray of shape (n_samples,)
            The same array as ``groups``.
        drawer : ndarray of shape (n_samples,)
            Which of the 20 people drew the image, from 0 to 19.
        target_names : ndarray of shape (n_characters,)
            ``"Alphabet/characterNN"`` for each character id.
        alphabet_names : ndarray of shape (n_alphabets,)
            The name of each alphabet id.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    fetch_omniglot_one_shot : the official 20-way one-shot runs.

    Notes
    -----
    Character ids number the characters of one subset; the two small
    background sets share Greek and Latin, whose characters have the same
    ``target_names`` but not the same ids in both.

    References
    ----------
    Lake, B. M., Salakhutdinov, R. and Tenenbaum, J. B. (2015). Human-level
    concept learning through probabilistic program induction. Science,
    350(6266), 1332-1338.

    Examples
    --------
    >>> from sksiamese.datasets import fetch_omniglot
    >>> omniglot = fetch_omniglot("background_small1")  # doctest: +SKIP
    >>> omniglot.images.shape  # doctest: +SKIP
    (2720, 28, 28)
    >>> omniglot.target_names[:2]  # doctest: +SKIP
    array(['Balinese/character01', 'Balinese/character02'], dtype='<U24')
    """
    if subset not in OMNIGLOT_SUBSETS:
        raise ValueError(
            f"subset must be one of {', '.join(map(repr, OMNIGLOT_SUBSETS))}; "
            f"got {subset!r}."
        )
    size = check_image_size(image_size)
    source = locate(
        _ARCHIVES[subset],
        data_home,
        "omniglot",
        download_if_missing=download_if_missing,
        caller="fetch_omniglot",
        folder_ok=True,
    )

    arrays = None
    if source.is_file():
        cache, key = _cache_path(source, size), _cache_key(source)
        arrays = _load_cache(cache, key, size)
    if arrays is None:
        arrays = _read_omniglot(source, size, pil_image("fetch_omniglot"))
        if source.is_file():
            _save_cache(cache, key, arrays)

    images = arrays["ink"].astype(np.float32) / np.float32(255)
    n, height, width = images.shape
    data = images.reshape(n, -1)
    if return_X_y:
        return data, arrays["target"]
    title = f"Omniglot, {subset} set"
    descr = _OMNIGLOT_DESCR.format(
        title=title,
        underline="=" * len(title),
        n_alphabets=len(arrays["alphabet_names"]),
        n_classes=len(arrays["target_names"]),
        n_samples=n,
        height=height,
        width=width,
        n_features=height * width,
        max_class=len(arrays["target_names"]) - 1,
        max_alphabet=len(arrays["alphabet_names"]) - 1,
        alphabets=", ".join(arrays["alphabet_names"]),
        citation=_CITATION,
    )
    return Bunch(
        images=images,
        data=data,
        target=arrays["target"],
        groups=arrays["groups"],
        alphabet=arrays["groups"],
        drawer=arrays["drawer"],
        target_names=arrays["target_names"],
        alphabet_names=arrays["alphabet_names"],
        DESCR=descr,
    )


# -- the 20-way one-shot runs -------------------------------------------------
def _read_answers(src, label_file, run, support, images):
    """{test image: index of its class among ``support``} from a class_labels.txt."""
    where = f"{label_file} in {src.path}"
    try:
        text = src.read(label_file).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not UTF-8 text ({exc}).") from None
    # class_labels.txt names files from the runs' parent folder.
    parent = run[: run.rstrip("/").rfind("/") + 1]
    answers = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        fields = [parent + f for f in line.split()]
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in support:
            raise ValueError(
                f"Line {line_no} of {label_file} should name a test image "
                "and one of the run's training images, as in "
                f"'{run[len(parent) :]}test/item01.png "
                f"{run[len(parent) :]}training/class01.png'; got {line!r}."
            )
        if fields[0] not in images:
            raise ValueError(
                f"Line {line_no} of {where} names the test image {fields[0]}, "
                "which the archive does not hold."
            )
        answer = support.index(fields[1])
        if answers.get(fields[0], answer) != answer:
            raise ValueError(
                f"Line {line_no} of {where} answers the test image {fields[0]} "
                "again, with another training image; each test image has one "
                "answer. Replace the file with the release's."
            )
        answers[fields[0]] = answer
    if not answers:
        raise ValueError(
            f"{where} names no test images: each line should name a test image "
            "and its class's training image."
        )
    return answers


def _read_runs(source, size, Image):
    with _Source(source) as src:
        label_files = src.names("class_labels.txt")
        if not label_files:
            raise ValueError(
                f"{source} holds no runNN/class_labels.txt: it does not have the "
                "layout of the one-shot runs (all_runs.zip)."
            )
        images = src.names(".png")
        runs = []
        for label_file in label_files:
            run = label_file[: -len("class_labels.txt")]
            support = [n for n in images if n.startswith(run + "training/")]
            answers = _read_answers(src, label_file, run, support, set(images))
            queries = sorted(answers)
            runs.append(
                (run.rstrip("/"), support, queries, [answers[q] for q in queries])
            )
        shapes = {(len(r[1]), len(r[2])) for r in runs}
        if len(shapes) > 1:
            raise ValueError(
                f"The runs in {source} differ in their numbers of training or "
                "test images; each run must have as many as the others."
            )

        def pixels(names):
            return [decode(Image, src.read(n), size, name=n) for n in names]

        support = [pixels(r[1]) for r in runs]
        queries = [pixels(r[2]) for r in runs]
    all_names = [n for r in runs for n in (*r[1], *r[2])]
    flat = stack([p for run in support + queries for p in run], all_names)
    n_runs, (n_way, n_query) = len(runs), shapes.pop()
    support_images = ink(flat[: n_runs * n_way]).reshape(n_runs, n_way, *flat.shape[1:])
    query_images = ink(flat[n_runs * n_way :]).reshape(n_runs, n_query, *flat.shape[1:])
    return Bunch(
        support_images=support_images,
        query_images=query_images,
        query_target=np.array([r[3] for r in runs], dtype=np.int64),
        run_names=np.array([r[0].split("/")[-1] for r in runs]),
        support_names=np.array([r[1] for r in runs]),
        query_names=np.array([r[2] for r in runs]),
    )


def fetch_omniglot_one_shot(*, data_home=None, download_if_missing=True, image_size=28):
    """Load the official Omniglot 20-way one-shot classification runs.

    The benchmark of Lake et al. (2015): 20 runs, each with one image of each
    of 20 characters from an alphabet of the evaluation set and 20 more images
    of them, drawn by other people, to classify. Score a transformer on it
    with :func:`evaluate_one_shot_runs`; train it on the background set only
    (:func:`fetch_omniglot`), so that these alphabets stay unseen.

    The file is ``all_runs.zip`` of the official release, found in or
    downloaded to ``data_home`` as for :func:`fetch_omniglot`.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Where to find or put ``all_runs.zip``. ``None`` means
        ``$SKSIAMESE_DATA`` or ``~/sksiamese_data``.
    download_if_missing : bool, default=True
        If False, raise ``FileNotFoundError`` instead of downloading.
    image_size : int or tuple (height, width) or None, default=28
        Size the images are resized to, as in :func:`fetch_omniglot`: use the
        size the transformer was trained on.

    Returns
    -------
    runs : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        support_images : ndarray of shape (n_runs, n_way, height, width)
            One image per class and run (``runNN/training/classNN.png``),
            float32, ink 1.0.
        query_images : ndarray of shape (n_runs, n_query, height, width)
            The images to classify (``runNN/test/itemNN.png``).
        query_target : ndarray of shape (n_runs, n_query)
            Index of each query's class among its run's support images, from
            ``runNN/class_labels.txt``.
        run_names : ndarray of shape (n_runs,)
            ``"run01"``, ...
        support_names, query_names : ndarray of str
            The images' file names in the archive.
        DESCR : str
            Description of the benchmark.

    See Also
    --------
    evaluate_one_shot_runs : score a transformer on these runs.

    Examples
    --------
    >>> from sksiamese.datasets import fetch_omniglot_one_shot
    >>> runs = fetch_omniglot_one_shot()  # doctest: +SKIP
    >>> runs.support_images.shape, runs.query_target.shape  # doctest: +SKIP
    ((20, 20, 28, 28), (20, 20))
    """
    size = check_image_size(image_size)
    source = locate(
        _ARCHIVES["one_shot_runs"],
        data_home,
        "omniglot",
        download_if_missing=download_if_missing,
        caller="fetch_omniglot_one_shot",
        folder_ok=True,
    )
    runs = _read_runs(source, size, pil_image("fetch_omniglot_one_shot"))
    n_runs, n_way, height, width = runs.support_images.shape
    runs.DESCR = _RUNS_DESCR.format(
        n_runs=n_runs,
        n_way=n_way,
        n_query=runs.query_images.shape[1],
        height=height,
        width=width,
        citation=_CITATION,
    )
    return runs


def evaluate_one_shot_runs(transformer, runs, *, distance=None, flatten="auto"):
    """Error of one-nearest-neighbour classification in each one-shot run.

    Each query image is given the class of the nearest support image of its
    run in the space of ``transformer.transform``, as in the benchmark of
    Lake et al. (2015); the error of a run is the fraction of its queries
    classified wrongly.

    Parameters
    ----------
    transformer : fitted transformer or None
        Anything with ``transform``: a fitted
        :class:`~sksiamese.SiameseTransformer`, a ``Pipeline`` ending in one,
        a ``FrozenEstimator`` around one, ... ``None`` compares raw pixels,
        the baseline.
    runs : Bunch
        The runs, as :func:`fetch_omniglot_one_shot` returns them:
        ``support_images``, ``query_images`` and ``query_target``.
    distance : {"euclidean", "cosine"}, default=None
        Distance between embeddings. ``None`` takes the transformer's
        ``distance`` parameter (through a ``Pipeline`` or
        ``FrozenEstimator``), or euclidean for transformers without one.
    flatten : bool or "auto", default="auto"
        Whether the transformer receives each image flattened to a row of
        ``height * width`` values (like ``fetch_omniglot().data``) or as an
        ``(n, height, width)`` array (like ``images``). ``"auto"`` flattens
        unless the transformer was fitted on images of the runs' height
        (its ``n_features_in_`` is the height).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        errors : ndarray of shape (n_runs,)
            Error rate of each run, between 0 and 1.
        mean_error : float
            Mean of ``errors``: the number reported for the benchmark (as a
            percentage).
        predictions : ndarray of shape (n_runs, n_query)
            The support index predicted for each query.

    See Also
    --------
    sksiamese.metrics.n_way_k_shot_accuracy : random episodes from any
        labelled data.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sksiamese.datasets import evaluate_one_shot_runs
    >>> rng = np.random.default_rng(0)
    >>> support = rng.random((2, 5, 8, 8), dtype=np.float32)
    >>> runs = Bunch(support_images=support,
    ...              query_images=support[:, ::-1] + 0.01,
    ...              query_target=np.tile(np.arange(5)[::-1], (2, 1)))
    >>> evaluate_one_shot_runs(None, runs).mean_error
    0.0
    """
    needed = ("support_images", "query_images", "query_target")
    missing = [key for key in needed if key not in runs]
    if missing:
        raise ValueError(
            f"runs has no {', '.join(missing)}; it should hold {', '.join(needed)}, "
            "as fetch_omniglot_one_shot returns them."
        )
    try:
        support = np.asarray(runs.support_images)
        queries = np.asarray(runs.query_images)
        if support.dtype.kind not in "biuf" or queries.dtype.kind not in "biuf":
            raise ValueError("they hold something other than numbers")
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "runs.support_images and runs.query_images should be arrays of "
            f"images of one size, (n_runs, n, height, width); they are not ({exc})."
        ) from None
    target = np.asarray(runs.query_target)
    if support.ndim < 3 or queries.ndim < 3 or 0 in support.shape[:2]:
        raise ValueError(
            "runs.support_images and runs.query_images should have shape (n_runs, "
            "n, height, width), with at least one run and one support image; got "
            f"shapes {support.shape} and {queries.shape}."
        )
    n_runs, n_way = support.shape[:2]
    n_query = queries.shape[1]
    if n_query == 0 or queries.shape[0] != n_runs:
        raise ValueError(
            f"runs.query_images should hold queries for each of the {n_runs} runs; "
            f"got shape {queries.shape}."
        )
    if support.shape[2:] != queries.shape[2:]:
        raise ValueError(
            f"Support images are {support.shape[2:]} but query images are "
            f"{queries.shape[2:]}; the runs need images of one size."
        )
    if target.shape != (n_runs, n_query):
        raise ValueError(
            f"runs.query_target should have shape {(n_runs, n_query)}, one entry "
            f"per query image; got shape {target.shape}."
        )
    if (target.dtype.kind not in "iu"
            or not ((target >= 0) & (target < n_way)).all()):
        # An out-of-range target is no answer the runs can give: it would
        # count as an error instead of being refused.
        raise ValueError(
            f"runs.query_target should hold support indices, integers from 0 to "
            f"{n_way - 1}; got values from {target.min()!r} to {target.max()!r} "
            f"(dtype {target.dtype})."
        )
    if transformer is not None and not hasattr(transformer, "transform"):
        raise TypeError(
            "transformer must have a transform method (a fitted "
            "SiameseTransformer, a Pipeline, ...) or be None for raw pixels; "
            f"got {transformer!r}."
        )
    distance = _resolve_distance(transformer, distance)
    images = np.concatenate(
        [
            support.reshape(n_runs * n_way, *support.shape[2:]),
            queries.reshape(n_runs * n_query, *queries.shape[2:]),
        ]
    )
    if transformer is None:
        embedded = images.reshape(len(images), -1)
    else:
        if flatten == "auto":
            height = images.shape[1] if images.ndim > 2 else None
            flatten = getattr(transformer, "n_features_in_", None) != height
        X = images.reshape(len(images), -1) if flatten else images
        embedded = np.asarray(transformer.transform(X))
        embedded = embedded.reshape(len(embedded), -1)
    z_support = embedded[: n_runs * n_way].reshape(n_runs, n_way, -1)
    z_query = embedded[n_runs * n_way :].reshape(n_runs, n_query, -1)
    predictions = np.stack(
        [
            _distances.pairwise(z_query[r], z_support[r], distance).argmin(axis=1)
            for r in range(n_runs)
        ]
    )
    errors = (predictions != target).mean(axis=1)
    return Bunch(
        errors=errors, mean_error=float(errors.mean()), predictions=predictions
    )
