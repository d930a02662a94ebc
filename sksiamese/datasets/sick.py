"""The SICK sentence pairs (SemEval-2014 Task 1): reading a local copy, downloading."""

from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._base import RemoteFile, locate

__all__ = ["load_sick"]

# The SemEval-2014 Task 1 release: one zip file per subset, each holding
# SICK_<subset>.txt. The checksums and sizes are those of the text files this
# loader was written against (the release as extracted), so that a download is
# only kept if it is that file, byte for byte.
_BASE_URL = "http://alt.qcri.org/semeval2014/task1/data/uploads/"
_REMOTES = {
    "train": RemoteFile(
        "SICK_train.txt",
        _BASE_URL + "sick_train.zip",
        "266cf8047149bd1d68138dd30439f3122bff30069740ac6705bb6197d9f1b48e",
        506243,
        member="SICK_train.txt",
    ),
    "trial": RemoteFile(
        "SICK_trial.txt",
        _BASE_URL + "sick_trial.zip",
        "5a88cfb62f8c6bd2a3cce0f2421ba2cb8c2be5ab4a800f6f01e2c64aafb7db56",
        57225,
        member="SICK_trial.txt",
    ),
}
_HEADER = [
    "pair_ID",
    "sentence_A",
    "sentence_B",
    "relatedness_score",
    "entailment_judgment",
]
_ENTAILMENT = ("CONTRADICTION", "ENTAILMENT", "NEUTRAL")

_DESCR = """\
{title}
{underline}

{n_pairs} English sentence pairs from SemEval-2014 Task 1 (Marelli et al.
2014), each with a semantic relatedness score from 1 (unrelated) to 5 (same
meaning), the mean of ten ratings, and an entailment judgment. The pairs come
from image captions (8K ImageFlickr) and video descriptions (SemEval-2012 STS
MSR-Video), rewritten to show lexical, syntactic and semantic phenomena.

===============  ==============================================================
sentence_A       object array of shape ({n_pairs},): the first sentences
sentence_B       object array of shape ({n_pairs},): the second sentences
data             object array of shape ({n_pairs}, 2): both, one pair per row
relatedness      float64 array of shape ({n_pairs},), in [1, 5]
target           the same array as relatedness
entailment       object array: "ENTAILMENT", "CONTRADICTION" or "NEUTRAL"
                 (sentence A entails, contradicts or is neutral to sentence B)
pair_id          int64 array: the release's pair_ID
filename         the file read
===============  ==============================================================

The official splits are train (4,500 pairs), trial (500) and test (4,927); use
trial for validation. Published Pearson correlations with the gold relatedness
on the test split: TF-IDF term overlap about 0.48, the Siamese LSTM of Mueller
and Thyagarajan (2016) 0.882.

Marelli, M., Bentivogli, L., Baroni, M., Bernardi, R., Menini, S. and
Zamparelli, R. (2014). SemEval-2014 Task 1: Evaluation of compositional
distributional semantic models on full sentences through semantic relatedness
and textual entailment. Licence: Creative Commons BY-NC-SA 3.0.
"""


def _locate(path_or_data_home, subset, download_if_missing):
    if path_or_data_home is not None and Path(path_or_data_home).expanduser().is_file():
        return Path(path_or_data_home).expanduser()
    return locate(
        _REMOTES[subset],
        path_or_data_home,
        "sick2014",
        download_if_missing=download_if_missing,
        caller="load_sick",
    )


def _parse(path):
    """Columns of a SICK file, checked line by line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a UTF-8 text file: {exc}") from None
    lines = text.splitlines()
    if not lines or lines[0].split("\t") != _HEADER:
        first = lines[0] if lines else ""
        raise ValueError(
            f"{path} does not start with the SICK header "
            f"{chr(9).join(_HEADER)!r} (tab-separated); its first line is "
            f"{first[:120]!r}."
        )
    ids, sent_a, sent_b, scores, labels = [], [], [], [], []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        try:
            if len(fields) != len(_HEADER):
                raise ValueError(f"{len(fields)} tab-separated fields, not 5")
            pair_id, a, b, score, label = fields
            score = float(score)
            if not 1 <= score <= 5:
                raise ValueError(f"relatedness {score} outside [1, 5]")
            if label not in _ENTAILMENT:
                raise ValueError(f"entailment judgment {label!r} unknown")
            pair_id = int(pair_id)
            if not -(2**63) <= pair_id < 2**63:
                raise ValueError(f"pair_ID {pair_id} outside the 64-bit range")
            ids.append(pair_id)
        except ValueError as exc:
            raise ValueError(
                f"{path}, line {number}, is not a SICK pair: {exc}."
            ) from None
        sent_a.append(a)
        sent_b.append(b)
        scores.append(score)
        labels.append(label)
    if not ids:
        raise ValueError(f"{path} holds a header but no sentence pairs.")

    def strings(values):
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    return (
        np.array(ids, dtype=np.int64),
        strings(sent_a),
        strings(sent_b),
        np.array(scores, dtype=np.float64),
        strings(labels),
    )


def load_sick(path_or_data_home=None, subset="train", *, download_if_missing=True):
    r"""Load the SICK sentence pairs with their relatedness and entailment.

    SICK (Marelli et al. 2014) holds English sentence pairs rated for
    relatedness in meaning from 1 to 5, the data of SemEval-2014 Task 1. A
    local copy is read where there is one; otherwise the official file is
    downloaded, checked against its SHA-256 and kept for the next call.

    Parameters
    ----------
    path_or_data_home : str or path-like, default=None
        A SICK file (tab-separated, with the header ``pair_ID sentence_A
        sentence_B relatedness_score entailment_judgment``), read whatever
        ``subset`` says; or a folder holding ``SICK_<subset>.txt`` directly or
        in a ``sick2014`` subfolder, where it is downloaded if missing. None
        is sksiamese's data folder (see
        :func:`~sksiamese.datasets.get_data_home`).
    subset : {"train", "trial"}, default="train"
        The split: 4,500 training pairs, or the 500 trial pairs meant for
        validation.
    download_if_missing : bool, default=True
        Download the file where no local copy is found; with False, raise
        ``FileNotFoundError`` instead.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``sentence_A`` and ``sentence_B`` (object arrays of str of shape
        ``(n_pairs,)``), ``data`` (both as an object array of shape
        ``(n_pairs, 2)``), ``relatedness`` (float64, 1 to 5; also as
        ``target``), ``entailment`` (``"ENTAILMENT"``, ``"CONTRADICTION"`` or
        ``"NEUTRAL"``), ``pair_id`` (int64), ``filename`` and ``DESCR``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sksiamese.datasets import load_sick
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "SICK_trial.txt").write_text(
    ...     "pair_ID\tsentence_A\tsentence_B\trelatedness_score\t"
    ...     "entailment_judgment\n"
    ...     "1\tA dog runs\tA dog is running\t4.8\tENTAILMENT\n")
    >>> sick = load_sick(folder, "trial", download_if_missing=False)
    >>> sick.data.tolist(), sick.relatedness, sick.entailment.tolist()
    ([['A dog runs', 'A dog is running']], array([4.8]), ['ENTAILMENT'])
    """
    if subset not in _REMOTES:
        raise ValueError(
            f"subset must be one of {', '.join(map(repr, _REMOTES))}; got {subset!r}."
        )
    path = _locate(path_or_data_home, subset, download_if_missing)
    pair_id, sent_a, sent_b, relatedness, entailment = _parse(path)
    data = np.empty((len(sent_a), 2), dtype=object)
    data[:, 0], data[:, 1] = sent_a, sent_b
    title = (
        "SICK (Sentences Involving Compositional Knowledge): "
        f"{subset if path.name == _REMOTES[subset].filename else path.name}"
    )
    return Bunch(
        sentence_A=sent_a,
        sentence_B=sent_b,
        data=data,
        relatedness=relatedness,
        target=relatedness,
        entailment=entailment,
        pair_id=pair_id,
        filename=str(path),
        DESCR=_DESCR.format(
            title=title, underline="=" * len(title), n_pairs=len(sent_a)
        ),
    )
