import io
import os
import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sksiamese import OneShotClassifier, SiamesePairClassifier, SiameseTransformer
from sksiamese.persistence import FORMAT_VERSION, load_model, save_model


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        yield


RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 6))
Y = np.array(["ant", "bee", "cat", "dog"])[np.arange(40) % 4]


def small(encoder="mlp", **params):
    defaults = {"n_components": 3, "max_epochs": 2, "batch_size": 16,
                "random_state": 0}
    return SiameseTransformer(encoder, **{**defaults, **params})


class Linear(torch.nn.Module):
    """A custom encoder class: not a plain value, so not in the file."""

    def __init__(self, n_features, n_components, bias=True):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_components, bias=bias)

    def forward(self, x):
        return self.linear(x)


def saved(estimator):
    buffer = io.BytesIO()
    save_model(estimator, buffer)
    buffer.seek(0)
    return buffer


def tampered(estimator, change):
    """A file of ``estimator`` whose payload ``change`` has edited."""
    payload = torch.load(saved(estimator), weights_only=True)
    change(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    buffer.seek(0)
    return buffer


@pytest.fixture(scope="module")
def fitted():
    return small().fit(X, Y)


@pytest.mark.parametrize("encoder, data, params", [
    ("mlp", X, {"distance": "cosine", "loss": "triplet", "miner": "semi-hard"}),
    ("cnn", X.reshape(40, 1, 2, 3), {"encoder_params": {"channels": (4,)}}),
    ("rnn", RNG.integers(0, 9, size=(40, 5)),
     {"encoder_params": {"vocab_size": 9, "hidden_size": 4}}),
    ("cnn", X, {"input_shape": (1, 2, -1), "encoder_params": {"channels": (4,)}}),
])
def test_round_trip_gives_identical_embeddings(tmp_path, encoder, data, params):
    est = small(encoder, **params).fit(data, Y)
    path = tmp_path / "model.pt"
    assert save_model(est, path) == []
    loaded = load_model(path)
    assert type(loaded) is SiameseTransformer
    np.testing.assert_array_equal(loaded.transform(data), est.transform(data))
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    assert loaded.classes_.dtype == est.classes_.dtype
    assert (loaded.n_features_in_, loaded.sample_shape_, loaded.n_components_) == (
        est.n_features_in_, est.sample_shape_, est.n_components_)
    assert len(loaded.history_) == 0


def test_round_trip_keeps_feature_names_and_can_train_on(fitted):
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    est = small().fit(frame, Y)
    loaded = load_model(saved(est))
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    np.testing.assert_array_equal(loaded.transform(frame), est.transform(frame))
    before = loaded.transform(frame)
    loaded.partial_fit(frame, Y)
    assert len(loaded.history_) == 1
    assert not np.array_equal(loaded.transform(frame), before)


@pytest.mark.parametrize("params", [
    {"loss": "contrastive"},
    {"loss": "bce", "share_weights": False, "threshold_strategy": 0.1},
])
def test_pair_classifier_round_trip(params):
    pairs = RNG.normal(size=(48, 2, 3))
    same = np.tile([0, 1], 24)
    clf = SiamesePairClassifier(n_components=2, max_epochs=2, random_state=0,
                                **params).fit(pairs, same)
    loaded = load_model(saved(clf))
    np.testing.assert_array_equal(loaded.predict_proba(pairs), clf.predict_proba(pairs))
    np.testing.assert_array_equal(loaded.predict(pairs), clf.predict(pairs))
    assert loaded.threshold_ == clf.threshold_
    assert loaded.proba_slope_ == clf.proba_slope_


def test_custom_encoder_needs_a_template():
    est = small(Linear, encoder_params={"bias": False}).fit(X, Y)
    buffer = saved(est)
    message = ("was saved from a SiameseTransformer whose parameters encoder are "
               "not plain values")
    with pytest.raises(ValueError, match=message):
        load_model(buffer)
    buffer.seek(0)
    loaded = load_model(buffer, estimator=SiameseTransformer(Linear))
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    # The saved plain parameters win over the template's.
    assert loaded.encoder_params == {"bias": False} and loaded.n_components == 3


def test_callbacks_are_training_only_and_need_no_template():
    from skorch.callbacks import ProgressBar

    est = small(callbacks=[ProgressBar()]).fit(X, Y)
    buffer = io.BytesIO()
    assert save_model(est, buffer) == ["callbacks"]
    buffer.seek(0)
    loaded = load_model(buffer)
    assert loaded.callbacks is None
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_template_of_another_class_is_a_type_error(fitted):
    with pytest.raises(TypeError, match="holds a SiameseTransformer, but the template "
                                        "estimator is a SiamesePairClassifier"):
        load_model(saved(fitted), estimator=SiamesePairClassifier())


def test_template_building_another_network_is_refused():
    est = small(Linear).fit(X, Y)
    with pytest.raises(ValueError, match="The file object holds weights that do not "
                                         "fit the SiameseTransformer that its "
                                         "parameters describe"):
        load_model(saved(est), estimator=SiameseTransformer("mlp"))


def test_device_can_be_chosen_at_load(fitted):
    loaded = load_model(saved(fitted), device=torch.device("cpu"))
    assert loaded.device == torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))


class RunsCode:
    """Unpickling this creates a directory: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_file_with_a_pickled_object_is_refused_without_running_it(fitted, tmp_path):
    marker = tmp_path / "code-ran"
    payload = torch.load(saved(fitted), weights_only=True)
    payload["attributes"]["classes_"] = RunsCode(marker)
    path = tmp_path / "evil.pt"
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"refused it .*unpickling runs code, so "
                                         r"load it with pickle or joblib only if "
                                         r"you trust its source"):
        load_model(path)
    assert not marker.exists()
    # The file does run code when loaded as a pickle: the refusal is what stops it.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_pickled_estimator_is_refused(fitted, tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(fitted))
    with pytest.raises(ValueError, match=re.escape(
            f"The file {str(path)!r} is not an sksiamese model file that can be "
            "loaded safely: torch.load(weights_only=True) refused it")):
        load_model(str(path))


@pytest.mark.parametrize("content, message", [
    (b"not a model at all", "refused it"),
    (None, r"is not an sksiamese model file \(it has no 'format': "
           r"'sksiamese.weights' entry\)"),
])
def test_foreign_file_is_refused(tmp_path, content, message):
    path = tmp_path / "foreign.pt"
    if content is None:
        torch.save({"weight": torch.zeros(2, 2)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_model(path)


def _set(*keys, value):
    def change(payload):
        target = payload
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def _first_weight(payload, value):
    key = next(iter(payload["state_dict"]))
    payload["state_dict"][key] = value(payload["state_dict"][key])


@pytest.mark.parametrize("change, error, message", [
    (_set("format_version", value=FORMAT_VERSION + 1), ValueError,
     r"has format version 2, which this sksiamese \(reading versions up to 1\) "
     r"cannot read.*Upgrade sksiamese"),
    (_set("estimator", value="Pipeline"), ValueError,
     r"holds a 'Pipeline', which is not an estimator that sksiamese saves"),
    (_set("attributes", "n_components_", value=5), ValueError,
     r"is inconsistent: the network embeds into 3 dimensions, but n_components_ "
     r"is 5"),
    (_set("attributes", "sample_shape_", value=(0, 6)), ValueError,
     r"the fitted attribute sample_shape_ = \(0, 6\) is not of the kind"),
    (_set("attributes", "classes_", value="ant"), ValueError,
     r"the fitted attribute classes_ = 'ant' is not of the kind"),
    (lambda p: p["attributes"].pop("n_features_in_"), ValueError,
     r"the fitted attribute n_features_in_ is missing"),
    (_set("params", "n_components", value=4), ValueError,
     r"(?s)do not fit the SiameseTransformer.*size mismatch for layers"),
    (_set("params", "margin", value=-1.0), ValueError,
     r"'margin' parameter of SiameseTransformer must be"),
    (_set("params", "colour", value="red"), ValueError,
     r"sets parameters \['colour'\] that SiameseTransformer does not have"),
    (lambda p: _first_weight(p, lambda w: w[:-1]), ValueError,
     r"do not fit the SiameseTransformer"),
    (lambda p: _first_weight(p, lambda w: w * np.nan), ValueError,
     r"its weights hold NaN or infinite values"),
    (lambda p: _first_weight(p, lambda w: w.tolist()), ValueError,
     r"its state_dict holds values that are not tensors"),
    (_set("state_dict", value=[1, 2]), ValueError,
     r"its 'state_dict' entry should be a dict, not list"),
])
def test_tampered_file_gives_a_clear_error(fitted, change, error, message):
    with pytest.raises(error, match=message):
        load_model(tampered(fitted, change))


def test_save_needs_a_fitted_supported_estimator(fitted):
    with pytest.raises(NotFittedError):
        save_model(small(), io.BytesIO())
    one_shot = OneShotClassifier(None).fit(X, Y)
    with pytest.raises(TypeError, match="save_model saves SiameseTransformer and "
                                        "SiamesePairClassifier; got OneShotClassifier"):
        save_model(one_shot, io.BytesIO())
