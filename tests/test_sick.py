import io
import re
import zipfile

import numpy as np
import pytest
from scipy.stats import spearmanr

from sksiamese import SiamesePairClassifier, TokenSequencer
from sksiamese.datasets import load_sick

HEADER = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"


@pytest.fixture(scope="module")
def sick_folder(shared_data):
    folder = shared_data / "sick2014"
    if not (folder / "SICK_train.txt").is_file():
        pytest.skip(f"{folder} holds no SICK_train.txt")
    return folder


# -- reading local copies ------------------------------------------------------------
def test_loader_reads_the_real_files(sick_folder):
    train = load_sick(sick_folder, "train", download_if_missing=False)
    trial = load_sick(sick_folder, "trial", download_if_missing=False)
    assert len(train.sentence_A) == 4500 and len(trial.sentence_A) == 500
    assert train.data.shape == (4500, 2)
    assert train.pair_id[0] == 1
    assert train.sentence_A[0] == ("A group of kids is playing in a yard and an old "
                                   "man is standing in the background")
    assert train.sentence_B[0] == ("A group of boys in a yard is playing and a man "
                                   "is standing in the background")
    assert train.relatedness[0] == 4.5 and train.entailment[0] == "NEUTRAL"
    for bunch in (train, trial):
        assert bunch.relatedness.dtype == np.float64
        assert bunch.relatedness.min() == 1.0 and bunch.relatedness.max() == 5.0
        assert bunch.target is bunch.relatedness
        assert set(bunch.entailment) == {"ENTAILMENT", "CONTRADICTION", "NEUTRAL"}
        assert len(np.unique(bunch.pair_id)) == len(bunch.pair_id)
        assert (bunch.data[:, 0] == bunch.sentence_A).all()
    assert not set(train.pair_id) & set(trial.pair_id)
    assert "SICK (Sentences Involving Compositional Knowledge): trial" in trial.DESCR


def test_loader_finds_the_file_in_a_sick2014_subfolder_or_by_its_path(sick_folder):
    by_home = load_sick(sick_folder.parent, "trial", download_if_missing=False)
    by_path = load_sick(sick_folder / "SICK_trial.txt", download_if_missing=False)
    assert by_home.filename == by_path.filename == str(sick_folder / "SICK_trial.txt")
    np.testing.assert_array_equal(by_home.relatedness, by_path.relatedness)


def test_missing_file_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"load_sick found no SICK_trial.txt in {tmp_path / 'sick2014'} nor "
            f"in {tmp_path}. Download http://alt.qcri.org/semeval2014/"
            "task1/data/uploads/sick_trial.zip")):
        load_sick(tmp_path, "trial", download_if_missing=False)


def test_bad_subset_and_malformed_files(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "subset must be one of 'train', 'trial'; got 'test'.")):
        load_sick(tmp_path, "test")
    bad_header = tmp_path / "header.txt"
    bad_header.write_text("id\ta\tb\n1\tx\ty\n")
    with pytest.raises(ValueError, match=re.escape(
            f"{bad_header} does not start with the SICK header")):
        load_sick(bad_header)
    bad_row = tmp_path / "row.txt"
    bad_row.write_text(HEADER + "1\tA dog\tA cat\t3.0\tNEUTRAL\n"
                       "2\tA dog\tA cat\t7.5\tNEUTRAL\n")
    with pytest.raises(ValueError, match=re.escape(
            f"{bad_row}, line 3, is not a SICK pair: relatedness 7.5 outside "
            "[1, 5].")):
        load_sick(bad_row)
    short_row = tmp_path / "short.txt"
    short_row.write_text(HEADER + "1\tA dog\t3.0\tNEUTRAL\n")
    with pytest.raises(ValueError, match=re.escape(
            f"{short_row}, line 2, is not a SICK pair: 4 tab-separated fields, "
            "not 5.")):
        load_sick(short_row)


# -- downloading (the network is replaced by a fake server) ----------------------------
def zipped(member, content):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(member, content)
    return buffer.getvalue()


def serve(monkeypatch, payload):
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr("sksiamese.datasets._base.urlopen", fake_urlopen)
    return requested


def test_download_is_verified_then_kept(sick_folder, tmp_path, monkeypatch):
    real = (sick_folder / "SICK_trial.txt").read_bytes()
    requested = serve(monkeypatch, zipped("SICK_trial.txt", real))
    monkeypatch.setenv("SKSIAMESE_DATA", str(tmp_path))
    sick = load_sick(subset="trial")
    assert requested == [
        "http://alt.qcri.org/semeval2014/task1/data/uploads/sick_trial.zip"]
    saved = tmp_path / "sick2014" / "SICK_trial.txt"
    assert sick.filename == str(saved) and saved.read_bytes() == real
    assert sorted(p.name for p in saved.parent.iterdir()) == ["SICK_trial.txt"]
    load_sick(subset="trial")  # the local copy now: no second request
    assert len(requested) == 1


@pytest.mark.parametrize("payload, message", [
    (zipped("SICK_trial.txt", HEADER + "1\tA dog\tA cat\t3.0\tNEUTRAL\n"),
     "SICK_trial.txt downloaded from http://alt.qcri.org/semeval2014/task1/data/"
     "uploads/sick_trial.zip has SHA-256"),
    (b"<html>moved</html>",
     "The file downloaded from http://alt.qcri.org/semeval2014/task1/data/"
     "uploads/sick_trial.zip is not a zip file holding SICK_trial.txt"),
])
def test_a_bad_download_leaves_no_file(tmp_path, monkeypatch, payload, message):
    serve(monkeypatch, payload)
    with pytest.raises(OSError, match=re.escape(message)):
        load_sick(tmp_path, "trial")
    assert list(tmp_path.rglob("*")) in ([], [tmp_path / "sick2014"])


# -- sentences for real ----------------------------------------------------------------
@pytest.mark.slow
def test_rnn_pair_classifier_relatedness_beats_chance_on_trial(sick_folder):
    train = load_sick(sick_folder, "train", download_if_missing=False)
    trial = load_sick(sick_folder, "trial", download_if_missing=False)
    # 4 or more is "same meaning", 2.5 or less "different"; the middle is left out.
    keep = (train.relatedness >= 4) | (train.relatedness <= 2.5)
    sequencer = TokenSequencer().fit(train.data)
    clf = SiamesePairClassifier(
        "rnn", encoder_params={"vocab_size": sequencer.vocab_size_,
                               "embedding_dim": 32, "hidden_size": 32},
        n_components=16, distance="cosine", margin=0.5, batch_size=64,
        max_epochs=3, random_state=0,
    )
    clf.fit(sequencer.transform(train.data[keep]),
            (train.relatedness[keep] >= 4).astype(int))
    scores = clf.decision_function(sequencer.transform(trial.data))
    rho, p_value = spearmanr(scores, trial.relatedness)
    assert rho > 0.4 and p_value < 1e-6


def test_pair_id_out_of_range_names_file_and_line(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(HEADER + "1\tA dog\tA cat\t3.0\tNEUTRAL\n"
                    f"{10**30}\tA dog\tA cat\t3.0\tNEUTRAL\n")
    with pytest.raises(ValueError, match=re.escape(
            f"{path}, line 3, is not a SICK pair: pair_ID {10**30} outside the "
            "64-bit range.")):
        load_sick(path)


class Stream:
    """A response that gives ``body`` (then ``filler`` forever) in the chunks asked."""

    def __init__(self, body, filler=b""):
        self.body, self.filler, self.largest_read = body, filler, 0

    def read(self, n=-1):
        if n is None or n < 0:
            raise AssertionError("the whole body was read at once")
        self.largest_read = max(self.largest_read, n)
        chunk, self.body = self.body[:n], self.body[n:]
        return chunk + self.filler * (n - len(chunk))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_is_streamed_and_bounded(sick_folder, tmp_path, monkeypatch):
    real = (sick_folder / "SICK_trial.txt").read_bytes()
    response = Stream(zipped("SICK_trial.txt", real))
    monkeypatch.setattr("sksiamese.datasets._base.urlopen",
                        lambda url, timeout=None: response)
    sick = load_sick(tmp_path, "trial")
    assert len(sick.pair_id) == 500
    assert 0 < response.largest_read <= 1 << 20

    # A body that does not end is cut off, and nothing is kept.
    endless = Stream(b"", filler=b"0")
    monkeypatch.setattr("sksiamese.datasets._base.urlopen",
                        lambda url, timeout=None: endless)
    with pytest.raises(OSError, match="sick_train.zip sends more than the "
                       "2061062 bytes SICK_train.txt can take"):
        load_sick(tmp_path, "train")
    assert sorted(p.name for p in (tmp_path / "sick2014").iterdir()) == [
        "SICK_trial.txt"]
