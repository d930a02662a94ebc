"""TokenSequencer: texts to padded arrays of token ids, for ``encoder="rnn"``."""

from collections import Counter
from collections.abc import Iterable
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils._param_validation import Interval, RealNotInt
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

__all__ = ["TokenSequencer"]

PADDING_ID = 0
UNKNOWN_ID = 1


class TokenSequencer(TransformerMixin, BaseEstimator):
    """Turn texts into fixed-length arrays of token ids, padded with 0.

    ``fit`` learns a vocabulary: the most frequent tokens get the smallest ids,
    from 2 on. ``transform`` cuts each text into tokens, replaces each by its
    id (1 for a token not in the vocabulary), keeps the first ``max_length_``
    and pads with 0 to that length. The result is what
    :class:`~sksiamese.SiameseTransformer` with ``encoder="rnn"`` (an
    :class:`~sksiamese.encoders.RNNEncoder`) reads, so a ``Pipeline`` can start
    from raw sentences.

    Every id is below ``vocab_size``, and ``RNNEncoder`` takes ids below its
    own ``vocab_size``: the two defaults are the same (10,000), so the
    defaults fit together. To change it, give both the same number::

        make_pipeline(TokenSequencer(vocab_size=5000),
                      SiameseTransformer(encoder="rnn",
                                         encoder_params={"vocab_size": 5000}))

    With ``vocab_size=None`` every token is kept; then fit the sequencer first
    and pass its ``vocab_size_`` to the encoder.

    A 2-D array of texts, such as ``(n_pairs, 2)`` sentence pairs, gives one
    sequence per text: ``(n_pairs, 2, max_length_)``, with one vocabulary for
    all columns.

    ``set_output(transform="pandas")`` (or ``"polars"``) returns a data frame
    of one row per text and one column per token position,
    ``get_feature_names_out()``: ``tokensequencer0``, ``tokensequencer1``,
    ... (scikit-learn's names for outputs that are not input features), with
    the index of a pandas input. A 2-D array of texts, whose output is 3-D,
    cannot be one: transform its columns one at a time.

    Parameters
    ----------
    max_length : int, default=None
        Length of the output sequences: longer texts keep their first
        ``max_length`` tokens. None uses the number of tokens of the longest
        text seen in ``fit``.
    vocab_size : int or None, default=10_000
        Bound on the ids: ``transform`` emits ids below it, so at most
        ``vocab_size - 2`` tokens (the most frequent) are kept, beside the
        padding id 0 and the unknown-token id 1. None keeps every token.
    min_df : int or float, default=1
        Keep only tokens found in at least this many texts (an int), or this
        fraction of the texts (a float in (0, 1]).
    lowercase : bool, default=True
        Lowercase the texts before cutting them into tokens.
    token_pattern : str, default=r"(?u)\\b\\w+\\b"
        Regular expression for a token, as in scikit-learn's
        ``CountVectorizer`` but keeping one-character words ("a", "I"), which
        a sequence model can use.
    tokenizer : callable, default=None
        A function from a text to its list of tokens, used instead of
        ``token_pattern``.
    vocabulary : dict of str to int or list of str, default=None
        A vocabulary given rather than learned, such as a fitted
        ``CountVectorizer``'s ``vocabulary_`` (its tokens in the order of
        their ids there) or a list of tokens. The tokens get the ids 2, 3, ...
        in that order, as ids 0 and 1 are the padding and the unknown token;
        ``min_df`` is then not used, and ``vocab_size`` must leave room for
        them all. :meth:`from_vectorizer` also takes the vectorizer's way of
        cutting texts into tokens.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Token to id, ids from 2 to ``vocab_size_ - 1``.
    vocab_size_ : int
        Number of ids in use: the vocabulary, the padding id 0 and the
        unknown-token id 1. Never above ``vocab_size``.
    max_length_ : int
        Length of the sequences that ``transform`` returns.

    See Also
    --------
    sksiamese.encoders.RNNEncoder : the encoder that embeds these sequences.
    sklearn.feature_extraction.text.CountVectorizer : bags of words, no order.

    Examples
    --------
    >>> from sksiamese import TokenSequencer
    >>> texts = ["A cat sat.", "A dog sat on a mat.", "The cat ran."]
    >>> seq = TokenSequencer(max_length=5).fit(texts)
    >>> sorted(seq.vocabulary_, key=seq.vocabulary_.get)
    ['a', 'cat', 'sat', 'dog', 'mat', 'on', 'ran', 'the']
    >>> seq.transform(["The dog sat on a mat with a cat."])
    array([[9, 5, 4, 7, 2]])
    >>> seq.transform(["A cow."])
    array([[2, 1, 0, 0, 0]])
    >>> seq.vocab_size_
    10

    From raw sentences to embeddings:

    >>> from sklearn.pipeline import make_pipeline
    >>> from sksiamese import SiameseTransformer
    >>> y = [0, 0, 1]
    >>> pipe = make_pipeline(
    ...     TokenSequencer(),
    ...     SiameseTransformer(encoder="rnn", n_components=2, max_epochs=1,
    ...                        random_state=0))
    >>> pipe.fit_transform(texts, y).shape
    (3, 2)
    """

    _parameter_constraints = {
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "vocab_size": [Interval(Integral, 3, None, closed="left"), None],
        "min_df": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
        ],
        "lowercase": ["boolean"],
        "token_pattern": [str],
        "tokenizer": [callable, None],
        "vocabulary": [dict, "array-like", None],
    }

    def __init__(self, *, max_length=None, vocab_size=10_000, min_df=1,
                 lowercase=True, token_pattern=r"(?u)\b\w+\b", tokenizer=None,
                 vocabulary=None):
        self.max_length = max_length
        self.vocab_size = vocab_size
        self.min_df = min_df
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary

    @classmethod
    def from_vectorizer(cls, vectorizer, **params):
        """A sequencer with a fitted vectorizer's vocabulary and tokenisation.

        The vocabulary, ``lowercase``, ``token_pattern`` and ``tokenizer``
        are those of a fitted ``CountVectorizer`` (or ``TfidfVectorizer``),
        so that the sequences and the bag of words see the same tokens; the
        order of the words, which the vectorizer drops, is what the sequences
        keep. Stop words and accents the vectorizer removed are not removed
        here: such tokens are not in the vocabulary and get the unknown id 1.

        Parameters
        ----------
        vectorizer : CountVectorizer or TfidfVectorizer
            Fitted, with ``analyzer="word"`` and ``ngram_range=(1, 1)``:
            sequences are of single words.
        **params
            Other parameters of the sequencer (``max_length``,
            ``vocab_size``, ...).

        Returns
        -------
        sequencer : TokenSequencer
            Not fitted: ``fit`` learns only ``max_length_`` (unless
            ``max_length`` is given).

        Examples
        --------
        >>> from sklearn.feature_extraction.text import CountVectorizer
        >>> from sksiamese import TokenSequencer
        >>> texts = ["A cat sat.", "A dog sat on a mat."]
        >>> bag = CountVectorizer().fit(texts)
        >>> seq = TokenSequencer.from_vectorizer(bag).fit(texts)
        >>> seq.vocabulary_
        {'cat': 2, 'dog': 3, 'mat': 4, 'on': 5, 'sat': 6}
        >>> seq.transform(["a dog sat"])  # its token_pattern skips 1-letter words
        array([[3, 6, 0, 0]])
        """
        vocabulary = getattr(vectorizer, "vocabulary_", None)
        if not isinstance(vocabulary, dict):
            raise ValueError(
                f"from_vectorizer takes a fitted CountVectorizer or "
                f"TfidfVectorizer; {type(vectorizer).__name__} has no "
                "vocabulary_ (fit it first)."
            )
        analyzer = getattr(vectorizer, "analyzer", "word")
        ngrams = tuple(getattr(vectorizer, "ngram_range", (1, 1)))
        if analyzer != "word" or ngrams != (1, 1):
            raise ValueError(
                f"The vectorizer has analyzer={analyzer!r} and ngram_range="
                f"{ngrams}; a sequence is of single words, so its vocabulary "
                "must be too: use analyzer='word', ngram_range=(1, 1)."
            )
        if getattr(vectorizer, "preprocessor", None) is not None:
            # Dropping it would look the vectorizer's tokens up in texts it
            # never saw that way: silently unknown ids.
            raise ValueError(
                f"The vectorizer has preprocessor={vectorizer.preprocessor!r}, "
                "which a TokenSequencer does not apply. Apply it to the texts "
                "before both (for example with a FunctionTransformer), and fit "
                "the vectorizer with preprocessor=None."
            )
        tokenizer = getattr(vectorizer, "tokenizer", None)
        return cls(**{
            "lowercase": getattr(vectorizer, "lowercase", True),
            "token_pattern": (vectorizer.token_pattern if tokenizer is None
                              and vectorizer.token_pattern is not None
                              else r"(?u)\b\w+\b"),
            "tokenizer": tokenizer,
            "vocabulary": dict(vocabulary),
            **params,
        })

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def _analyzer(self):
        return CountVectorizer(
            lowercase=self.lowercase,
            tokenizer=self.tokenizer,
            # CountVectorizer warns when both are set; the tokenizer wins.
            token_pattern=None if self.tokenizer is not None else self.token_pattern,
        ).build_analyzer()

    def _tokenize(self, X):
        texts, shape = _as_texts(X)
        analyzer = self._analyzer()
        tokenized = []
        for text in texts:
            try:
                tokens = analyzer(text)
            except TypeError as exc:
                raise ValueError(
                    f"tokenizer={self.tokenizer!r} must return a list of tokens "
                    f"(str) for each text; on {text[:40]!r} it failed: {exc}"
                ) from exc
            if (isinstance(tokens, str) or not isinstance(tokens, Iterable)
                    or not all(isinstance(t, str) for t in tokens)):
                raise ValueError(
                    f"tokenizer={self.tokenizer!r} must return a list of tokens "
                    f"(str) for each text; on {text[:40]!r} it returned "
                    f"{tokens!r}."
                )
            tokenized.append(list(tokens))
        return tokenized, shape

    def fit(self, X, y=None):
        """Learn the vocabulary and, unless ``max_length`` is set, the length.

        Parameters
        ----------
        X : iterable of str, or array-like of str of shape (n_samples, n_columns)
            The texts.
        y : None
            Ignored.

        Returns
        -------
        self : TokenSequencer
            The fitted sequencer.
        """
        self._validate_params()
        self._fit(self._tokenize(X)[0])
        return self

    def _given_vocabulary(self):
        """The tokens of ``vocabulary`` in their order, checked."""
        vocabulary = self.vocabulary
        if isinstance(vocabulary, dict):
            tokens = sorted(vocabulary, key=vocabulary.get)
        else:
            tokens = list(np.asarray(vocabulary, dtype=object).ravel())
        bad = [t for t in tokens if not isinstance(t, str)]
        if bad or not tokens or len(set(tokens)) != len(tokens):
            raise ValueError(
                "vocabulary must hold distinct tokens (str), at least one: a "
                "dict of token to id (a CountVectorizer's vocabulary_) or a "
                "list of tokens; got "
                + (f"{type(bad[0]).__name__} {bad[0]!r}" if bad else
                   "no token" if not tokens else "repeated tokens") + "."
            )
        if isinstance(vocabulary, dict):
            ids = list(vocabulary.values())
            if (not all(isinstance(i, Integral) and not isinstance(i, bool)
                        for i in ids)
                    or sorted(ids) != list(range(len(ids)))):
                # As CountVectorizer: ids that repeat, skip or go negative
                # are a vocabulary of some other numbering, not renumbered.
                raise ValueError(
                    "vocabulary given as a dict must map its tokens to the ids "
                    f"0 to {len(ids) - 1}, each once (as a CountVectorizer's "
                    f"vocabulary_); got ids {sorted(ids, key=repr)[:8]}"
                    + (" ..." if len(ids) > 8 else "") + ". Pass a list of "
                    "tokens in the order wanted instead."
                )
        if self.lowercase:
            upper = [t for t in tokens if t != t.lower()]
            if upper:
                raise ValueError(
                    f"vocabulary holds tokens with upper-case letters "
                    f"({upper[:3]}) while lowercase=True lowers every token "
                    "of the texts, so they would never match. Lower them, or "
                    "pass lowercase=False."
                )
        if self.vocab_size is not None and len(tokens) + 2 > self.vocab_size:
            raise ValueError(
                f"vocabulary holds {len(tokens)} tokens, which with the padding "
                f"and unknown ids need vocab_size >= {len(tokens) + 2}; got "
                f"vocab_size={self.vocab_size}. Raise it (and the encoder's "
                "vocab_size), or pass vocab_size=None."
            )
        return tokens

    def _fit(self, tokenized):
        if self.vocabulary is not None:
            kept = self._given_vocabulary()
            self.vocabulary_ = {t: i for i, t in enumerate(kept, start=2)}
            self.vocab_size_ = len(kept) + 2
            self.max_length_ = int(
                self.max_length or max(1, max(len(tokens) for tokens in tokenized)))
            return
        doc_freq = Counter()
        term_freq = Counter()
        for tokens in tokenized:
            term_freq.update(tokens)
            doc_freq.update(set(tokens))
        min_count = (self.min_df if isinstance(self.min_df, Integral)
                     else self.min_df * len(tokenized))
        kept = [t for t in term_freq if doc_freq[t] >= min_count]
        if not kept:
            raise ValueError(
                "TokenSequencer found no token in at least min_df="
                f"{self.min_df} of the {len(tokenized)} texts"
                + (" (the texts hold no tokens at all); check token_pattern or "
                   "tokenizer." if not term_freq else "; lower min_df.")
            )
        # Ties in frequency go alphabetically, so the ids do not depend on the
        # order of the texts.
        kept.sort(key=lambda t: (-term_freq[t], t))
        if self.vocab_size is not None:
            kept = kept[:self.vocab_size - 2]
        self.vocabulary_ = {t: i for i, t in enumerate(kept, start=2)}
        self.vocab_size_ = len(kept) + 2
        self.max_length_ = int(
            self.max_length or max(1, max(len(tokens) for tokens in tokenized))
        )

    def transform(self, X):
        """Turn texts into arrays of token ids.

        Parameters
        ----------
        X : iterable of str, or array-like of str of shape (n_samples, n_columns)
            The texts.

        Returns
        -------
        X_ids : ndarray of shape (n_samples, max_length_) or \
                (n_samples, n_columns, max_length_), dtype int64
            Token ids, 1 for unknown tokens, padded at the end with 0.
        """
        check_is_fitted(self, "vocabulary_")
        tokenized, shape = self._tokenize(X)
        self._check_output(shape)
        return self._ids(tokenized, shape)

    def fit_transform(self, X, y=None):
        """Learn the vocabulary and turn the texts into arrays of token ids.

        Parameters
        ----------
        X : iterable of str, or array-like of str of shape (n_samples, n_columns)
            The texts.
        y : None
            Ignored.

        Returns
        -------
        X_ids : ndarray of shape (n_samples, max_length_) or \
                (n_samples, n_columns, max_length_), dtype int64
            Token ids, 1 for unknown tokens, padded at the end with 0.
        """
        self._validate_params()
        tokenized, shape = self._tokenize(X)
        self._check_output(shape)
        self._fit(tokenized)
        return self._ids(tokenized, shape)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns, one per token position.

        Parameters
        ----------
        input_features : None
            Not used: texts have no features to name the output after;
            present for API consistency by convention.

        Returns
        -------
        feature_names_out : ndarray of str objects of shape (max_length_,)
            ``tokensequencer0``, ``tokensequencer1``, ..., as scikit-learn
            names the outputs of a transformer that are not input features.

        Examples
        --------
        >>> from sksiamese import TokenSequencer
        >>> seq = TokenSequencer(max_length=3).fit(["a cat sat", "a dog"])
        >>> seq.get_feature_names_out()
        array(['tokensequencer0', 'tokensequencer1', 'tokensequencer2'],
              dtype=object)
        >>> seq.set_output(transform="pandas").transform(["a dog sat"])
           tokensequencer0  tokensequencer1  tokensequencer2
        0                2                4                5
        """
        check_is_fitted(self, "vocabulary_")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.max_length_)],
                          dtype=object)

    def _check_output(self, shape):
        """Refuse a 3-D output where ``set_output`` asks for a data frame."""
        container = _get_output_config("transform", self)["dense"]
        if len(shape) > 1 and container != "default":
            raise ValueError(
                f"TokenSequencer got a 2-D array of texts {shape}, whose "
                f"sequences form an array of shape {(*shape, 'max_length_')}, "
                f"but set_output(transform={container!r}) asks for a data frame, "
                "which is 2-D. Transform one column of texts at a time, or call "
                "set_output(transform='default')."
            )

    def _ids(self, tokenized, shape):
        out = np.full((len(tokenized), self.max_length_), PADDING_ID, dtype=np.int64)
        vocabulary = self.vocabulary_
        for row, tokens in zip(out, tokenized, strict=True):
            ids = [vocabulary.get(t, UNKNOWN_ID) for t in tokens[:self.max_length_]]
            row[:len(ids)] = ids
        return out.reshape(*shape, self.max_length_)


def _as_texts(X):
    """The texts of ``X`` as a flat list, and the shape they came in."""
    if isinstance(X, (str, bytes)):
        raise ValueError(
            "TokenSequencer expects a list of texts; got a single string. "
            "Wrap it in a list: [text]."
        )
    if sp.issparse(X):
        raise ValueError(
            "TokenSequencer expects texts: a list of str, or a 2-D array of str "
            f"(n_samples, n_columns); got a sparse {type(X).__name__} of shape "
            f"{X.shape}, which holds numbers, not texts. Pass the raw texts, "
            "not the output of a vectorizer."
        )
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    elif not hasattr(X, "__len__"):
        X = list(X)
    try:
        texts = np.asarray(X, dtype=object)
    except ValueError as exc:
        raise ValueError(
            "TokenSequencer expects a list of texts or a 2-D array of texts "
            f"with the same number of columns in every row: {exc}"
        ) from None
    if texts.ndim not in (1, 2):
        raise ValueError(
            "TokenSequencer expects a list of texts or a 2-D array of texts "
            f"(n_samples, n_columns); got an array of shape {texts.shape}."
        )
    if texts.size == 0:
        raise ValueError(
            f"TokenSequencer got no texts (an array of shape {texts.shape}); "
            "give at least one."
        )
    flat = texts.ravel().tolist()
    for index, text in enumerate(flat):
        if isinstance(text, str):
            continue
        where = tuple(int(i) for i in np.unravel_index(index, texts.shape))
        if isinstance(text, (list, tuple, np.ndarray)):
            # numpy leaves rows of unequal lengths as a 1-D array of lists.
            raise ValueError(
                "TokenSequencer expects a list of texts or a 2-D array of texts "
                "with the same number of columns in every row; got a "
                f"{type(text).__name__} of texts at index {where}."
            )
        raise ValueError(
            f"TokenSequencer expects texts (str); got {type(text).__name__} "
            f"{text!r} at index {where}. Replace missing values by an empty "
            "string, for example with fillna('')."
        )
    return flat, texts.shape
