"""Tests for sksiamese.text: TokenSequencer, alone and before encoder="rnn"."""

import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sksiamese import SiameseTransformer, TokenSequencer

TEXTS = ["The cat sat on the mat.", "A dog sat.", "The dog ran, the cat sat!"]


def test_ids_follow_frequency_then_alphabet_from_two():
    seq = TokenSequencer().fit(TEXTS)
    # the: 4; sat: 3; cat, dog: 2; a, mat, on, ran: 1.
    assert seq.vocabulary_ == {"the": 2, "sat": 3, "cat": 4, "dog": 5, "a": 6,
                               "mat": 7, "on": 8, "ran": 9}
    assert seq.vocab_size_ == 10
    assert seq.max_length_ == 6


def test_ids_do_not_depend_on_the_order_of_the_texts():
    forward = TokenSequencer().fit(TEXTS)
    backward = TokenSequencer().fit(TEXTS[::-1])
    assert forward.vocabulary_ == backward.vocabulary_


def test_transform_pads_with_zero_marks_unknown_tokens_and_truncates():
    seq = TokenSequencer(max_length=4).fit(TEXTS)
    out = seq.transform(["The cow sat", "cat", "the the the the the dog"])
    np.testing.assert_array_equal(
        out, [[2, 1, 3, 0], [4, 0, 0, 0], [2, 2, 2, 2]]
    )
    assert out.dtype == np.int64


def test_max_length_none_is_the_longest_training_text():
    seq = TokenSequencer().fit(["one two", "one two three four five"])
    assert seq.max_length_ == 5
    assert seq.transform(["one " * 9]).shape == (1, 5)


def test_vocab_size_bounds_the_ids_and_keeps_the_most_frequent():
    seq = TokenSequencer(vocab_size=5).fit(TEXTS)
    assert seq.vocabulary_ == {"the": 2, "sat": 3, "cat": 4}
    assert seq.vocab_size_ == 5
    assert seq.transform(TEXTS).max() == 4
    everything = TokenSequencer(vocab_size=None).fit(TEXTS)
    assert everything.vocab_size_ == 10


@pytest.mark.parametrize("min_df", [2, 0.5])
def test_min_df_drops_tokens_of_few_texts(min_df):
    seq = TokenSequencer(min_df=min_df).fit(TEXTS)
    assert set(seq.vocabulary_) == {"the", "sat", "cat", "dog"}


def test_lowercase_and_tokenizer_decide_the_tokens():
    assert "The" in TokenSequencer(lowercase=False).fit(TEXTS).vocabulary_
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seq = TokenSequencer(tokenizer=str.split).fit(["a b, c", "a b."])
    assert seq.vocabulary_ == {"a": 2, "b,": 3, "b.": 4, "c": 5}
    # One-letter words are tokens by default, unlike in CountVectorizer.
    assert TokenSequencer().fit(["I saw a cat"]).vocab_size_ == 6


def test_fit_transform_equals_fit_then_transform():
    seq = TokenSequencer(max_length=5)
    np.testing.assert_array_equal(seq.fit_transform(TEXTS),
                                  clone(seq).fit(TEXTS).transform(TEXTS))


def test_a_2d_array_of_texts_gives_one_sequence_per_text():
    pairs = [("The cat sat.", "A dog ran."), ("The dog sat.", "The cat.")]
    seq = TokenSequencer()
    out = seq.fit_transform(pairs)
    assert out.shape == (2, 2, 3)
    single = seq.transform([text for pair in pairs for text in pair])
    np.testing.assert_array_equal(out.reshape(4, 3), single)
    assert {"a", "ran"} <= set(seq.vocabulary_)


def test_pandas_input():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"left": TEXTS, "right": TEXTS[::-1]})
    seq = TokenSequencer().fit(frame)
    assert seq.transform(frame).shape == (3, 2, 6)
    np.testing.assert_array_equal(seq.transform(frame["left"]),
                                  seq.transform(TEXTS))


def test_any_iterable_of_texts():
    seq = TokenSequencer().fit(text for text in TEXTS)
    np.testing.assert_array_equal(seq.transform(iter(TEXTS)), seq.transform(TEXTS))


@pytest.mark.parametrize(
    "X, message",
    [
        ("The cat sat.", "TokenSequencer expects a list of texts; got a single "
                         "string. Wrap it in a list: [text]."),
        (["a cat", None], "TokenSequencer expects texts (str); got NoneType None "
                          "at index (1,). Replace missing values by an empty "
                          "string, for example with fillna('')."),
        ([["a", "b"], ["c", 3.0]], "got float 3.0 at index (1, 1)."),
        ([["a", "b"], ["c"]], "TokenSequencer expects a list of texts or a 2-D "
                              "array of texts with the same number of columns "
                              "in every row"),
        (np.full((2, 2, 2), "a"), "TokenSequencer expects a list of texts or a "
                                  "2-D array of texts (n_samples, n_columns); "
                                  "got an array of shape (2, 2, 2)."),
        ([], "TokenSequencer got no texts (an array of shape (0,)); give at "
             "least one."),
        (sp.csr_matrix(np.eye(2)), "TokenSequencer expects texts: a list of str, "
                                   "or a 2-D array of str (n_samples, n_columns); "
                                   "got a sparse csr_matrix of shape (2, 2), which "
                                   "holds numbers, not texts. Pass the raw texts, "
                                   "not the output of a vectorizer."),
        (CountVectorizer().fit_transform(TEXTS), "got a sparse csr_matrix of "
                                                 "shape (3, 7), which holds "
                                                 "numbers, not texts."),
    ],
)
def test_rejects_what_is_not_texts(X, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TokenSequencer().fit(X)


def test_rejects_an_empty_vocabulary():
    with pytest.raises(ValueError, match=re.escape(
        "TokenSequencer found no token in at least min_df=3 of the 3 texts; "
        "lower min_df."
    )):
        TokenSequencer(min_df=3).fit(["a b", "c d", "e f"])
    with pytest.raises(ValueError, match=re.escape(
        "(the texts hold no tokens at all); check token_pattern or tokenizer."
    )):
        TokenSequencer().fit(["...", "!"])


@pytest.mark.parametrize(
    "params, name",
    [({"vocab_size": 2}, "vocab_size"), ({"max_length": 0}, "max_length"),
     ({"min_df": 1.5}, "min_df"), ({"lowercase": "yes"}, "lowercase")],
)
def test_rejects_bad_params(params, name):
    with pytest.raises(ValueError, match=f"The '{name}' parameter of TokenSequencer"):
        TokenSequencer(**params).fit(TEXTS)


def test_transform_before_fit_raises():
    with pytest.raises(NotFittedError):
        TokenSequencer().transform(TEXTS)


def test_clone_pickle_and_params():
    seq = TokenSequencer(max_length=4, min_df=1).fit(TEXTS)
    restored = pickle.loads(pickle.dumps(seq))
    np.testing.assert_array_equal(restored.transform(TEXTS), seq.transform(TEXTS))
    fresh = clone(seq)
    assert fresh.get_params() == seq.get_params()
    assert not hasattr(fresh, "vocabulary_")
    assert seq.get_params()["max_length"] == 4
    assert seq.__sklearn_tags__().input_tags.string


# Word order alone tells the classes apart: a bag of words cannot.
PHRASES = ["dog bites man", "man bites dog", "bites dog man", "man dog bites"]
FILLER = "the a one big small red old new and then today it was seen here".split()


def ordered_sentences(n, seed):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(PHRASES)
    texts = []
    for c in y:
        words = list(rng.choice(FILLER, size=rng.integers(3, 9)))
        at = rng.integers(0, len(words) + 1)
        words[at:at] = PHRASES[c].split()
        texts.append(" ".join(words).capitalize() + ".")
    return texts, y


def test_pipeline_from_raw_sentences_learns_word_order():
    X_train, y_train = ordered_sentences(160, seed=1)
    X_test, y_test = ordered_sentences(200, seed=2)
    pipe = make_pipeline(
        TokenSequencer(),
        # Both vocab_size defaults are 10,000: nothing to pass between them.
        SiameseTransformer(encoder="rnn", n_components=8, batch_size=32, lr=3e-3,
                           max_epochs=10, random_state=0),
        KNeighborsClassifier(n_neighbors=1),
    )
    accuracy = pipe.fit(X_train, y_train).score(X_test, y_test)
    bag = make_pipeline(CountVectorizer(), KNeighborsClassifier(n_neighbors=1))
    bag_accuracy = bag.fit(X_train, y_train).score(X_test, y_test)
    assert accuracy >= 0.9
    assert bag_accuracy < 0.5


def test_a_vocab_size_above_the_encoders_says_how_to_fix_it():
    X, y = ordered_sentences(12, seed=0)
    pipe = make_pipeline(
        TokenSequencer(vocab_size=None),
        SiameseTransformer(encoder="rnn", encoder_params={"vocab_size": 8},
                           max_epochs=1, random_state=0),
    )
    with pytest.raises(ValueError, match=re.escape(
        "out of range for vocab_size=8 (ids must lie in 0 .. 7, 0 being "
        "padding). Pass encoder_params={'vocab_size': n} with n above the "
        "largest id; TokenSequencer(vocab_size=n) emits ids below n."
    )):
        pipe.fit(X, y)
    pipe.set_params(tokensequencer__vocab_size=8)
    assert pipe.fit_transform(X, y).shape == (12, 64)


# -- vocabularies from scikit-learn's vectorizers --------------------------------
def test_vocabulary_of_a_fitted_count_vectorizer():
    texts = ["the cat sat", "the dog sat on the mat", "a cat ran"]
    bag = CountVectorizer().fit(texts)
    seq = TokenSequencer(vocabulary=bag.vocabulary_).fit(texts)
    # Ids from 2 in the vectorizer's order; the counts play no part.
    order = sorted(bag.vocabulary_, key=bag.vocabulary_.get)
    assert seq.vocabulary_ == {t: i + 2 for i, t in enumerate(order)}
    assert seq.vocab_size_ == len(order) + 2
    ids = seq.transform(["the cat sat on a hat"])[0]
    expected = [seq.vocabulary_[t] if t in seq.vocabulary_ else 1
                for t in ["the", "cat", "sat", "on", "a", "hat"]]
    assert ids[:6].tolist() == expected
    listed = TokenSequencer(vocabulary=["dog", "cat"]).fit(texts)
    assert listed.vocabulary_ == {"dog": 2, "cat": 3}
    assert clone(seq).get_params()["vocabulary"] == bag.vocabulary_


def test_from_vectorizer_takes_its_tokenisation():
    texts = ["The Cat sat", "the dog sat on a mat"]
    bag = CountVectorizer(lowercase=False, token_pattern=r"[A-Za-z]+").fit(texts)
    seq = TokenSequencer.from_vectorizer(bag, max_length=8).fit(texts)
    assert seq.lowercase is False and seq.token_pattern == r"[A-Za-z]+"
    assert set(seq.vocabulary_) == set(bag.vocabulary_)
    assert seq.max_length_ == 8
    assert seq.transform(["The a"])[0, :2].tolist() == [
        seq.vocabulary_["The"], seq.vocabulary_["a"]]


@pytest.mark.parametrize("vectorizer, match", [
    (CountVectorizer(), "has no vocabulary_ \\(fit it first\\)"),
    (CountVectorizer(ngram_range=(1, 2)).fit(["ab cd"]), "ngram_range=\\(1, 2\\)"),
    (CountVectorizer(analyzer="char").fit(["ab"]), "analyzer='char'"),
])
def test_from_vectorizer_refuses_what_is_not_a_word_vocabulary(vectorizer, match):
    with pytest.raises(ValueError, match=match):
        TokenSequencer.from_vectorizer(vectorizer)


@pytest.mark.parametrize("vocabulary, params, match", [
    (["cat", "cat"], {}, "repeated tokens"),
    ([1, 2], {}, "got int 1"),
    ([], {}, "no token"),
    (["a", "b", "c"], {"vocab_size": 4}, "need vocab_size >= 5; got vocab_size=4"),
])
def test_bad_vocabularies_are_refused(vocabulary, params, match):
    with pytest.raises(ValueError, match=match):
        TokenSequencer(vocabulary=vocabulary, **params).fit(["a cat"])


# -- vocabularies and tokenizers that would give silently wrong ids ------------------
@pytest.mark.parametrize("vocabulary", [
    {"cat": 0, "dog": 0, "mat": 1},
    {"cat": 0, "dog": 2},
    {"cat": -1, "dog": 0},
])
def test_token_sequencer_refuses_renumbered_vocabulary_ids(vocabulary):
    with pytest.raises(ValueError, match=r"must map its tokens to the ids 0 to"):
        TokenSequencer(vocabulary=vocabulary).fit(["a cat"])


def test_token_sequencer_refuses_upper_case_vocabulary_when_lowercasing():
    with pytest.raises(ValueError, match=r"upper-case letters \(\['Cat'\]\) while "
                                         r"lowercase=True"):
        TokenSequencer(vocabulary=["Cat", "dog"]).fit(["Cat dog"])
    seq = TokenSequencer(vocabulary=["Cat", "dog"], lowercase=False).fit(["Cat dog"])
    np.testing.assert_array_equal(seq.transform(["Cat dog"]), [[2, 3]])


def test_token_sequencer_from_vectorizer_refuses_a_preprocessor():
    bag = CountVectorizer(preprocessor=str.upper, lowercase=False).fit(["a cat sat"])
    with pytest.raises(ValueError, match=r"which a TokenSequencer does not apply"):
        TokenSequencer.from_vectorizer(bag)


def test_token_sequencer_tokenizer_returning_an_int_is_a_clear_error():
    with pytest.raises(ValueError, match=r"must return a list of tokens \(str\)"):
        TokenSequencer(tokenizer=lambda text: 3).fit(["a cat"])


# -- scikit-learn's set_output API ----------------------------------------------------
def test_set_output_pandas_gives_a_frame_of_token_positions():
    pd = pytest.importorskip("pandas")
    texts = pd.Series(TEXTS, index=[10, 20, 30], name="sentence")
    default = TokenSequencer(max_length=4).fit(texts)
    seq = TokenSequencer(max_length=4).set_output(transform="pandas")
    names = [f"tokensequencer{i}" for i in range(4)]
    for out in (seq.fit_transform(texts), seq.transform(texts)):
        assert isinstance(out, pd.DataFrame)
        assert list(out.columns) == names
        assert list(out.index) == [10, 20, 30]
        assert (out.dtypes == np.int64).all()
        np.testing.assert_array_equal(out.to_numpy(), default.transform(texts))
    np.testing.assert_array_equal(seq.get_feature_names_out(), names)
    assert seq.get_feature_names_out().dtype == object
    # A list has no index: the frame counts from 0.
    assert list(seq.transform(["a cat"]).index) == [0]
    # Back to arrays.
    assert isinstance(seq.set_output(transform="default").transform(texts),
                      np.ndarray)


def test_set_output_in_a_pipeline_and_a_column_transformer():
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer

    frame = pd.DataFrame({"left": TEXTS, "right": TEXTS[::-1]})
    ct = ColumnTransformer([("l", TokenSequencer(max_length=3), "left"),
                            ("r", TokenSequencer(max_length=2), "right")])
    out = ct.set_output(transform="pandas").fit_transform(frame)
    assert list(out.columns) == ["l__tokensequencer0", "l__tokensequencer1",
                                 "l__tokensequencer2", "r__tokensequencer0",
                                 "r__tokensequencer1"]


def test_set_output_refuses_a_2d_array_of_texts_and_changes_nothing():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"left": TEXTS, "right": TEXTS[::-1]})
    seq = TokenSequencer().set_output(transform="pandas")
    message = (r"TokenSequencer got a 2-D array of texts \(3, 2\), whose sequences "
               r"form an array of shape \(3, 2, 'max_length_'\), but "
               r"set_output\(transform='pandas'\) asks for a data frame, which is "
               r"2-D\. Transform one column of texts at a time")
    with pytest.raises(ValueError, match=message):
        seq.fit_transform(frame)
    assert not hasattr(seq, "vocabulary_")
    seq.fit(frame)
    fitted = dict(vars(seq))
    with pytest.raises(ValueError, match=message):
        seq.transform(frame)
    assert vars(seq).keys() == fitted.keys()
    assert seq.set_output(transform="default").transform(frame).shape == (3, 2, 6)


def test_get_feature_names_out_before_fit_raises():
    with pytest.raises(NotFittedError):
        TokenSequencer().get_feature_names_out()


def test_check_estimator():
    # Its input is texts: scikit-learn's checks run what they can on them.
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkipTestWarning)
        check_estimator(TokenSequencer())
