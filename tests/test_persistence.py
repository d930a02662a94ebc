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

from sksiamese import (
    OneShotClassifier,
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
)
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
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every parameter is saved: nothing to say
        assert save_model(est, path) is None
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
    buffer = io.BytesIO()
    with pytest.warns(UserWarning, match=r"did not save the parameters encoder of "
                      r"the SiameseTransformer.*load_model will need a template"):
        assert save_model(est, buffer) is None
    buffer.seek(0)
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
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # callbacks are not needed to load
        assert save_model(est, buffer) is None
    assert torch.load(io.BytesIO(buffer.getvalue()),
                      weights_only=True)["params_not_saved"] == ["callbacks"]
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
     r"(?s)do not fit the SiameseTransformer.*size mismatch for encoder.layers"),
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
    # OneShotClassifier is saved too now (see the tests of one-shot galleries).
    from sklearn.decomposition import PCA

    with pytest.raises(TypeError, match="save_model saves OneShotClassifier, "
                                        "SiamesePairClassifier, SiamesePairRegressor "
                                        "and SiameseTransformer; got PCA"):
        save_model(PCA(2).fit(X), io.BytesIO())


# -- untrusted and damaged files ---------------------------------------------
def _encoded(values, dtype):
    """An array as save_model writes it."""
    return {"__ndarray__": values, "dtype": dtype}


@pytest.fixture()
def linear_devices(monkeypatch):
    """The devices of the weights of every ``torch.nn.Linear`` made meanwhile."""
    devices = []
    reset = torch.nn.Linear.reset_parameters

    def spy(self):
        devices.append(self.weight.device.type)
        reset(self)

    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", spy)
    return devices


def test_declared_network_is_checked_before_it_is_built(fitted, linear_devices):
    # 1 GB of float32 weights for a 16000 x 16000 layer, from a small file.
    buffer = tampered(fitted, _set("params", "encoder_params",
                                   value={"hidden_layer_sizes": (16000, 16000)}))
    with pytest.raises(ValueError, match=r"holds weights that do not fit the "
                                         r"SiameseTransformer that its parameters "
                                         r"describe, with the fitted attributes "
                                         r"sample_shape_=\(6,\).*size mismatch for "
                                         r"encoder.layers.0.weight: \(.*\) in the "
                                         r"file, "
                                         r"\(16000, 6\) in the network"):
        load_model(buffer)
    assert linear_devices and set(linear_devices) == {"meta"}


def _expanded_weights(shapes):
    """A state dict whose every tensor views one stored float: a tiny file."""
    one = torch.zeros(())
    return {key: one.expand(shape) for key, shape in shapes.items()}


def test_file_cannot_make_the_loader_allocate_more_than_it_holds(fitted,
                                                                 linear_devices):
    big = {"hidden_layer_sizes": (1024, 1024)}
    shapes = {k: v.shape for k, v in small(encoder_params=big).fit(
        X, Y).net_.module_.state_dict().items()}
    linear_devices.clear()

    def change(payload):
        payload["params"]["encoder_params"] = big
        payload["state_dict"] = _expanded_weights(shapes)

    buffer = tampered(fitted, change)
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ValueError, match=r"its network needs \d+ bytes of parameters "
                                         r"and buffers, but its stored weights hold "
                                         r"only \d+; loading will not allocate more"):
        load_model(buffer)
    assert linear_devices and set(linear_devices) == {"meta"}


class WithTable(torch.nn.Module):
    """A custom encoder with a buffer that is not saved, sized by a parameter."""

    def __init__(self, n_features, n_components, table=1):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_components)
        self.register_buffer("table", torch.zeros(table), persistent=False)

    def forward(self, x):
        return self.linear(x)


def test_unsaved_buffers_count_towards_what_a_file_may_allocate():
    est = small(WithTable).fit(X, Y)
    template = SiameseTransformer(WithTable)
    np.testing.assert_array_equal(load_model(saved(est), estimator=template)
                                  .transform(X), est.transform(X))
    buffer = tampered(est, _set("params", "encoder_params",
                                value={"table": 2**20}))
    with pytest.raises(ValueError, match=r"its network needs 41\d{5} bytes"):
        load_model(buffer, estimator=template)


@pytest.fixture(scope="module")
def model_bytes(fitted):
    return saved(fitted).getvalue()


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999, 100])
def test_truncated_file_names_the_file_and_says_so(tmp_path, model_bytes, keep):
    path = tmp_path / "model.pt"
    size = keep if isinstance(keep, int) else int(len(model_bytes) * keep)
    path.write_bytes(model_bytes[:size])
    with pytest.raises(ValueError, match=re.escape(
            f"The file {str(path)!r} is truncated or damaged: it starts as a model "
            "file does, but torch.load cannot read it")):
        load_model(path)
    with path.open("rb") as file, pytest.raises(
            ValueError, match="truncated or damaged"):
        load_model(file)


def test_empty_and_missing_files(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(f"The file {str(path)!r} is empty")):
        load_model(path)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_model(tmp_path / "missing.pt")


ABSENT_DEVICES = ["cuda:99"] + ([] if torch.cuda.is_available() else ["cuda"])


@pytest.mark.parametrize("device", ABSENT_DEVICES)
def test_model_saved_on_an_absent_device_loads_on_the_cpu(fitted, device):
    buffer = tampered(fitted, _set("params", "device", value=device))
    with pytest.warns(UserWarning, match=rf"holds a model saved with "
                                         rf"device='{device}', which is not "
                                         r"available on this machine .*it is loaded "
                                         r"on the CPU instead"):
        loaded = load_model(buffer)
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))


@pytest.mark.parametrize("device", ABSENT_DEVICES + ["gpu", "meta"])
def test_absent_device_asked_for_is_a_clear_error(fitted, device):
    with pytest.raises(ValueError, match=rf"cannot place the model on "
                                         rf"device='{device}': it is not available "
                                         r".*load_model\(path, device=\"cpu\"\) "
                                         r"loads it on the CPU"):
        load_model(saved(fitted), device=device)


def _kind(attribute, value):
    return (rf"the fitted attribute {attribute} = {re.escape(value)} is not of the "
            "kind a fitted model has")


@pytest.mark.parametrize("change, message", [
    (_set("attributes", "classes_", value=_encoded([1, 1], "<i8")),
     _kind("classes_", "array([1, 1])") + ".*distinct labels"),
    (_set("attributes", "classes_", value=_encoded([{"a": 1}, {"b": 2}], "|O")),
     r"the fitted attribute classes_ cannot be read: its array's values should be "
     r"a list of numbers or strings"),
    (_set("attributes", "classes_", value=_encoded(["a", "b"], "bogus")),
     r"the fitted attribute classes_ cannot be read: its array has the dtype "
     r"'bogus', which numpy does not know"),
    (_set("attributes", "classes_", value=_encoded(["a"] * 1000, "<U20000")),
     r"the fitted attribute classes_ cannot be read: its array of 1000 values has "
     r"the dtype <U20000, which would take 80000000 bytes"),
    (_set("attributes", "classes_", value=_encoded([10**30], "<i8")),
     r"the fitted attribute classes_ cannot be read: its values do not fit the "
     r"dtype int64"),
    (_set("attributes", "n_features_in_", value=6.0),
     _kind("n_features_in_", "6.0") + ": it should be a positive int"),
    (_set("attributes", "feature_names_in_", value=_encoded(list("abcde"), "|O")),
     _kind("feature_names_in_", "array(['a', 'b', 'c', 'd', 'e'], dtype=object)")
     + ": it should be a 1-D array of n_features_in_ strings"),
    (_set("attributes", "sample_shape_", value=(3,)),
     _kind("sample_shape_", "(3,)") + ": it should be a tuple of positive ints that "
                                      "n_features_in_ columns reshaped by "
                                      "input_shape give"),
    (_set("attributes", "sample_shape_", value=(2, 3)),
     _kind("sample_shape_", "(2, 3)")),
    (lambda p: p["attributes"].update(sample_shape_=(3,), n_features_in_=3),
     r"(?s)that its parameters describe, with the fitted attributes "
     r"sample_shape_=\(3,\) .*size mismatch for encoder.layers.0.weight: "
     r"\(\d+, 6\) in the file, \(\d+, 3\) in the network"),
    (_set("params", "encoder_params", value=_encoded([1], "bogus")),
     r"its parameter 'encoder_params' cannot be read: its array has the dtype"),
])
def test_tampered_fitted_attributes_are_named(fitted, change, message):
    with pytest.raises(ValueError, match=message):
        load_model(tampered(fitted, change))


@pytest.fixture(scope="module")
def pair_classifier():
    pairs = RNG.normal(size=(48, 2, 3))
    return SiamesePairClassifier(n_components=2, max_epochs=1, random_state=0).fit(
        pairs, np.tile([0, 1], 24))


@pytest.mark.parametrize("change, message", [
    (_set("attributes", "proba_slope_", value=-1.0),
     _kind("proba_slope_", "-1.0") + ": it should be a positive finite float"),
    (_set("attributes", "proba_slope_", value=0.0), _kind("proba_slope_", "0.0")),
    (_set("attributes", "classes_", value=_encoded([1, 1], "<i8")),
     _kind("classes_", "array([1, 1])") + ": it should be a 1-D array of two "
                                          "distinct labels"),
    (_set("attributes", "pair_shape_", value=(5,)),
     _kind("pair_shape_", "(5,)") + ": it should be a tuple of positive ints that "
                                    "starts with n_features_in_"),
    (_set("attributes", "sample_shapes_", value=((2,), (4,))),
     _kind("sample_shapes_", "((2,), (4,))") + ": it should be two tuples"),
])
def test_tampered_pair_classifier_attributes_are_named(pair_classifier, change,
                                                       message):
    with pytest.raises(ValueError, match=message):
        load_model(tampered(pair_classifier, change))


@pytest.mark.parametrize("split, share_weights", [(None, True), (2, False)])
def test_flat_pairs_round_trip_with_their_split(split, share_weights):
    pairs = RNG.normal(size=(48, 6 if share_weights else 5))
    clf = SiamesePairClassifier(n_components=2, max_epochs=1, random_state=0,
                                split=split, share_weights=share_weights).fit(
        pairs, np.tile([0, 1], 24))
    loaded = load_model(saved(clf))
    np.testing.assert_array_equal(loaded.predict_proba(pairs), clf.predict_proba(pairs))
    assert loaded.sample_shapes_ == clf.sample_shapes_


@pytest.mark.parametrize("encoder, data, params, shape", [
    ("cnn", X.reshape(40, 1, 2, 3), {"encoder_params": {"channels": (4,)}},
     (1, 1000, 1000)),
    ("rnn", RNG.integers(0, 9, size=(40, 5)),
     {"encoder_params": {"vocab_size": 9, "hidden_size": 4}}, (10**6,)),
])
def test_fitted_sample_shape_cannot_make_the_check_embed_a_huge_sample(
        monkeypatch, encoder, data, params, shape):
    # Neither encoder's weights depend on the sample's length or image size.
    from sksiamese.encoders import ENCODERS

    est = small(encoder, **params).fit(data, Y)
    sizes = []
    cls = ENCODERS[encoder]
    forward = cls.forward

    def spy(self, x):
        if x.device.type != "meta":
            sizes.append(x.numel())
        return forward(self, x)

    monkeypatch.setattr(cls, "forward", spy)
    buffer = tampered(est, lambda p: p["attributes"].update(
        sample_shape_=shape, n_features_in_=shape[0]))
    loaded = load_model(buffer)
    assert loaded.sample_shape_ == shape
    assert sizes == []
    # The meta device gives a CNN's width for any image size; the RNN looks at
    # its token ids, which a meta tensor lacks, so a small sample is embedded
    # (its 2 rows padded to the 64 of an inference batch).
    load_model(saved(est))
    assert sizes == ([] if encoder == "cnn" else [64 * data.shape[1]])


class NoMeta(torch.nn.Module):
    """A custom encoder that reads a value while it is built: not on meta."""

    def __init__(self, n_features, n_components):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_components)
        self.scale = float(torch.ones(()).item())

    def forward(self, x):
        return self.scale * self.linear(x)


def test_custom_encoder_that_cannot_be_built_on_meta_still_loads():
    est = small(NoMeta).fit(X, Y)
    loaded = load_model(saved(est), estimator=SiameseTransformer(NoMeta))
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    with pytest.raises(ValueError, match=r"size mismatch for linear.weight"):
        load_model(tampered(est, lambda p: p["attributes"].update(
            sample_shape_=(3,), n_features_in_=3)),
            estimator=SiameseTransformer(NoMeta))


def test_compressed_records_are_refused_before_they_are_unpacked(fitted, tmp_path):
    import zipfile

    original = zipfile.ZipFile(saved(fitted))
    path = tmp_path / "deflated.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as packed:
        for info in original.infolist():
            packed.writestr(info.filename, original.read(info.filename))
    # torch.load itself reads the repacked file: the refusal is sksiamese's.
    assert torch.load(path, weights_only=True)["format"] == "sksiamese.weights"
    with pytest.raises(ValueError, match=r"is not a model file that save_model "
                                         r"wrote: it holds compressed records"):
        load_model(path)


def test_regressor_file_with_an_overflowing_target_range_is_refused():
    pairs = RNG.normal(size=(24, 2, 3))
    reg = SiamesePairRegressor(n_components=2, max_epochs=1, random_state=0).fit(
        pairs, np.linspace(0, 1, 24))
    change = _set("attributes", "y_max_", value=1e308)

    def overflowing(payload):
        change(payload)
        payload["attributes"]["y_min_"] = -1e308

    with pytest.raises(ValueError, match=_kind("y_max_", "1e+308")):
        load_model(tampered(reg, overflowing))


def test_save_model_to_an_unwritable_path_says_which(fitted, tmp_path):
    path = tmp_path / "no-such-folder" / "model.pt"
    with pytest.raises(OSError, match=r"save_model could not write .*model\.pt.*"
                                      r"Check that its folder exists"):
        save_model(fitted, path)


@pytest.mark.parametrize("params", [{"validation_fraction": 0.5}, {}],
                         ids=["validated", "not-validated"])
def test_best_epoch_survives_save_and_load(params):
    X8 = RNG.normal(size=(64, 6))
    y8 = np.arange(64) % 8
    est = small(max_epochs=3, **params).fit(X8, y8)
    loaded = load_model(saved(est))
    assert loaded.best_epoch_ == est.best_epoch_
    assert (est.best_epoch_ is None) == (not params)


@pytest.mark.parametrize("value, shown", [(0, "0"), (2.0, "2.0"), ("3", "'3'")])
def test_tampered_best_epoch_is_named(fitted, value, shown):
    change = _set("attributes", "best_epoch_", value=value)
    with pytest.raises(ValueError, match=_kind("best_epoch_", shown)
                       + ": it should be None or a positive int"):
        load_model(tampered(fitted, change))


# -- files written by earlier versions ---------------------------------------
DATA = os.path.join(os.path.dirname(__file__), "data")


def test_files_of_format_1_still_load():
    # Written by tests/data/make_format1_models.py at commit 3d92b48, before
    # the estimators declared what they save: the same file format.
    expected = np.load(os.path.join(DATA, "format1_expected.npz"))
    emb = load_model(os.path.join(DATA, "format1_transformer.pt"))
    np.testing.assert_array_equal(emb.transform(expected["X"]), expected["transform"])
    clf = load_model(os.path.join(DATA, "format1_pair_classifier.pt"))
    np.testing.assert_array_equal(clf.predict_proba(expected["pairs"]),
                                  expected["proba"])
    np.testing.assert_array_equal(clf.predict(expected["pairs"]), expected["predict"])
    reg = load_model(os.path.join(DATA, "format1_pair_regressor.pt"))
    np.testing.assert_array_equal(reg.predict(expected["pairs"]), expected["regress"])


def test_persistence_keeps_no_list_of_estimators():
    # Each estimator declares what it saves; the registry of _schema, which
    # the base class fills, finds a saved name's class: persistence imports
    # no estimator module and names no estimator.
    import ast

    import sksiamese
    from sksiamese import _schema, persistence

    tree = ast.parse(open(persistence.__file__).read())
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not imported & {"transformer", "pairs", "pair_regressor", "one_shot",
                           "sksiamese"}, imported
    source = open(persistence.__file__).read()
    code = source.split('"""', 2)[2]  # past the module docstring
    names = [n for n in sksiamese.__all__ if n != "TokenSequencer"]
    assert all(f'"{n}"' not in code for n in names)
    saved = _schema.registered()
    assert {"SiameseTransformer", "SiamesePairClassifier",
            "SiamesePairRegressor"} <= set(saved)
    assert all(getattr(sksiamese, n) is cls for n, cls in saved.items())


def test_a_subclass_is_not_saved_under_its_parents_name(fitted):
    class Mine(SiameseTransformer):
        pass

    est = Mine(n_components=3, max_epochs=1, batch_size=16, random_state=0).fit(X, Y)
    with pytest.raises(TypeError, match="got Mine"):
        save_model(est, io.BytesIO())
    from sksiamese import _schema

    assert _schema.registered()["SiameseTransformer"] is SiameseTransformer


# -- one-shot galleries -------------------------------------------------------
def _same_answers(loaded, clf, queries):
    assert type(loaded) is OneShotClassifier
    assert loaded.get_params(deep=False).keys() == clf.get_params(deep=False).keys()
    np.testing.assert_array_equal(loaded.predict(queries), clf.predict(queries))
    np.testing.assert_array_equal(loaded.predict_proba(queries),
                                  clf.predict_proba(queries))
    for got, want in zip(loaded.match(queries), clf.match(queries), strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(loaded.kneighbors(queries, 2), clf.kneighbors(queries, 2),
                         strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(loaded.nearest_classes(queries),
                         clf.nearest_classes(queries), strict=True):
        np.testing.assert_array_equal(got, want)
    for key in ("support_embeddings_", "support_labels_", "classes_", "prototypes_"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(clf, key))
        assert getattr(loaded, key).dtype == getattr(clf, key).dtype
    assert loaded.threshold_ == clf.threshold_


@pytest.mark.parametrize("params", [
    {},
    {"rule": "prototype", "distance": "cosine", "threshold": "auto",
     "unknown_label": "none"},
    {"rule": "knn", "n_neighbors": 3, "threshold": 1.5, "unknown_label": "none"},
])
def test_raw_feature_one_shot_round_trip(params):
    clf = OneShotClassifier(None, **params).fit(X[:12], Y[:12])
    loaded = load_model(saved(clf))
    assert loaded.transformer is None and loaded.transformer_ is None
    assert loaded.get_params() == clf.get_params()
    _same_answers(loaded, clf, X[12:])
    # The gallery grows on as the original's does.
    loaded.partial_fit(X[12:16], Y[12:16])
    clf.partial_fit(X[12:16], Y[12:16])
    _same_answers(loaded, clf, X[16:])


def test_one_shot_with_a_fitted_transformer_round_trip(fitted, tmp_path):
    clf = OneShotClassifier(fitted, threshold="auto", unknown_label="new")
    clf.fit(X[:12], Y[:12])
    clf.calibrate_threshold(X[12:30], np.where(np.isin(Y[12:30], ["ant", "bee"]),
                                               Y[12:30], "new"), criterion="f1")
    path = tmp_path / "gallery.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert save_model(clf, path) is None
    loaded = load_model(path)
    _same_answers(loaded, clf, X[30:])
    # The transformer parameter is the loaded transformer_, as it was.
    assert loaded.transformer is loaded.transformer_
    assert type(loaded.transformer_) is SiameseTransformer
    np.testing.assert_array_equal(loaded.transformer_.transform(X), fitted.transform(X))
    assert loaded.threshold_criterion_ == "f1"
    assert loaded.threshold_rates_ == clf.threshold_rates_
    # Saved again, it loads the same; device= places its transformer.
    again = load_model(saved(loaded), device="cpu")
    _same_answers(again, clf, X[30:])
    assert again.transformer_.device == "cpu"


def test_one_shot_keeps_a_frozen_or_cloned_transformer_as_it_was(fitted):
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    frozen = OneShotClassifier(FrozenEstimator(fitted)).fit(X[:12], Y[:12])
    loaded = load_model(saved(frozen))
    _same_answers(loaded, frozen, X[12:])
    assert isinstance(loaded.transformer, FrozenEstimator)
    assert loaded.transformer is loaded.transformer_
    # An unfitted transformer is fitted as a clone; the parameter stays unfitted.
    fitting = OneShotClassifier(clone(fitted), rule="prototype").fit(X[:24], Y[:24])
    loaded = load_model(saved(fitting))
    _same_answers(loaded, fitting, X[24:])
    assert loaded.transformer is not loaded.transformer_
    assert not hasattr(loaded.transformer, "net_")
    assert loaded.transformer.get_params() == fitting.transformer.get_params()


def test_one_shot_with_a_custom_encoder_needs_a_template():
    emb = small(Linear).fit(X, Y)
    clf = OneShotClassifier(emb).fit(X[:12], Y[:12])
    buffer = io.BytesIO()
    with pytest.warns(UserWarning, match="parameters transformer_.encoder of the "
                                         "OneShotClassifier"):
        save_model(clf, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="holds a transformer_ that cannot be loaded: "
                                         ".*parameters encoder are not plain"):
        load_model(buffer)
    buffer.seek(0)
    loaded = load_model(buffer, estimator=OneShotClassifier(SiameseTransformer(Linear)))
    _same_answers(loaded, clf, X[12:])


def test_one_shot_with_a_transformer_save_model_cannot_save_is_refused():
    from sklearn.decomposition import PCA

    clf = OneShotClassifier(PCA(2).fit(X)).fit(X[:12], Y[:12])
    with pytest.raises(TypeError, match="cannot save this OneShotClassifier: its "
                                        "transformer_ is a PCA"):
        save_model(clf, io.BytesIO())
    with pytest.raises(NotFittedError):
        save_model(OneShotClassifier(None), io.BytesIO())


@pytest.fixture(scope="module")
def gallery(fitted):
    clf = OneShotClassifier(fitted, threshold=1.0, unknown_label="none")
    return clf.fit(X[:12], Y[:12])


def _scaled(section, key, factor):
    def change(payload):
        payload[section][key] = payload[section][key] * factor
    return change


def _nested(change):
    def nested(payload):
        change(payload["models"]["transformer_"]["payload"])
    return nested


@pytest.mark.parametrize("change, message", [
    (_set("arrays", "support_embeddings_", value=torch.zeros(12, 5)),
     "support_embeddings_ = .* a column per dimension of the embedding"),
    (_set("arrays", "support_embeddings_", value=torch.full((12, 3), np.nan)),
     "support_embeddings_ = .* finite floats"),
    (_set("arrays", "support_embeddings_", value=[1.0]),
     "support_embeddings_ should be stored as a tensor, not list"),
    (_scaled("arrays", "prototypes_", 2.0),
     "prototypes_ = .* the mean support embedding of each class"),
    (_set("arrays", "_support_codes", value=torch.zeros(12, dtype=torch.int64)),
     "_support_codes = .* the index in classes_"),
    (_set("attributes", "support_labels_",
          value={"__ndarray__": ["ant"] * 3, "dtype": "<U3"}),
     "support_labels_ = .* one per support sample"),
    (_set("attributes", "classes_",
          value={"__ndarray__": ["ant", "bee"], "dtype": "<U3"}),
     "classes_ = .* the distinct support_labels_"),
    (_set("attributes", "threshold_", value=-1.0), "threshold_ = -1.0 .* >= 0"),
    (_set("attributes", "distance_", value="manhattan"), "distance_ = 'manhattan'"),
    (_set("links", "transformer", value="shared"),
     "how the parameter transformer relates to transformer_"),
    (_set("models", "transformer_", value={"payload": 1}),
     "its saved transformer_ should be a dict with 'frozen' and 'payload'"),
    (_nested(_set("attributes", "n_components_", value=4)),
     "holds a transformer_ that cannot be loaded: .*network embeds into 3 "
     "dimensions, but n_components_ is 4"),
    (_nested(_set("state_dict", value=[])),
     "holds a transformer_ that cannot be loaded: .*'state_dict' entry should be"),
    (_set("models", value=[]), "its 'models' entry should be a dict, not list"),
    (_set("state_dict", value={"w": torch.zeros(2)}),
     "it holds weights, but a OneShotClassifier has no network"),
    (_nested(_set("models", value={"transformer_": None})),
     "its saved transformer_ holds estimators of its own"),
    (_nested(_set("estimator", value="OneShotClassifier")),
     "holds a transformer_ that cannot be loaded"),
])
def test_tampered_one_shot_file_gives_a_clear_error(gallery, change, message):
    with pytest.raises(ValueError, match=message):
        load_model(tampered(gallery, change))


def test_truncated_one_shot_file_is_refused(gallery, tmp_path):
    data = saved(gallery).getvalue()
    path = tmp_path / "gallery.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="is truncated or damaged"):
        load_model(path)


def test_a_loaded_image_gallery_still_checks_the_image_shape(tmp_path):
    from sksiamese import OneShotClassifier

    rng = np.random.default_rng(0)
    images, labels = rng.uniform(size=(6, 8, 8)), np.array([0, 0, 1, 1, 2, 2])
    clf = OneShotClassifier(None).fit(images, labels)
    save_model(clf, tmp_path / "gallery.pt")
    loaded = load_model(tmp_path / "gallery.pt")
    assert loaded._sample_shape == (8, 8)
    np.testing.assert_array_equal(loaded.predict(images), clf.predict(images))
    with pytest.raises(ValueError, match=r"images of shape \(8, 9\).*\(8, 8\)"):
        loaded.predict(rng.uniform(size=(2, 8, 9)))
