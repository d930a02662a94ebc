"""
========================================================================
Sentence similarity on SICK: Siamese recurrent networks against TF-IDF
========================================================================

SICK (Marelli et al., 2014, the data of SemEval-2014 Task 1) holds English
sentence pairs that people rated for relatedness of meaning, from 1
(unrelated) to 5 (the same meaning). A Siamese network reads both sentences
with the same recurrent encoder and compares the two embeddings; Mueller and
Thyagarajan (2016) reached a Pearson correlation of 0.88 with the gold
ratings this way, with pretrained word vectors and much longer training.

Here two Siamese models with the ``"rnn"`` encoder (a bidirectional LSTM
over token ids from :class:`~sksiamese.TokenSequencer`, learned from
scratch, no pretrained vectors) are trained on SICK_train in about a minute
together: :class:`~sksiamese.SiamesePairRegressor` on all 4,500 pairs and
their graded scores, in the style of MaLSTM, and
:class:`~sksiamese.SiamesePairClassifier` on the clear cases only, cut into
"same" and "different". Their scores are compared with the gold relatedness
of the 500 SICK_trial pairs (Pearson and Spearman correlations), beside the
cosine between TF-IDF vectors, the classic term-overlap baseline.
"""

# %%
# The data
# --------
# :func:`~sksiamese.datasets.load_sick` reads a local copy where there is one
# (in the folder named by the environment variable ``SKSIAMESE_DATA``, or in
# ``~/sksiamese_data``) and downloads the official files otherwise.
#
# SiamesePairRegressor learns from the scores themselves, so it trains on
# every SICK_train pair. SiamesePairClassifier learns from pairs labelled
# "same" or "different": pairs rated 4 or more become "same meaning", pairs
# rated 2.5 or less "different"; the pairs in between are left out of its
# training, since either label would be a guess for them. Every trial pair,
# the middle ones included, is scored by both models afterwards.
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import pearsonr, rankdata, spearmanr
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import paired_cosine_distances

from sksiamese import SiamesePairClassifier, SiamesePairRegressor, TokenSequencer
from sksiamese.datasets import load_sick
from sksiamese.metrics import best_threshold_accuracy
from sksiamese.plotting import PairDistanceDisplay, TrainingCurveDisplay

train = load_sick(subset="train")
trial = load_sick(subset="trial")

SAME, DIFFERENT = 4.0, 2.5
keep = (train.relatedness >= SAME) | (train.relatedness <= DIFFERENT)
y_train = (train.relatedness[keep] >= SAME).astype(int)
print(
    f"SICK_train: {len(train.relatedness)} pairs, all for the regressor, "
    f"{keep.sum()} for the classifier ({y_train.sum()} 'same', "
    f"{(1 - y_train).sum()} 'different')"
)
print(f"SICK_trial: {len(trial.relatedness)} pairs, all scored")
print("a pair:", " | ".join(trial.data[0]), f"-> {trial.relatedness[0]}")

# %%
# From sentences to token ids
# ---------------------------
# :class:`~sksiamese.TokenSequencer` learns a vocabulary from the training
# sentences and turns each sentence into a padded row of token ids. Given
# the ``(n_pairs, 2)`` array of sentence pairs, it returns an array of shape
# ``(n_pairs, 2, max_length)``: exactly the ``(n_pairs, 2, ...)`` pairs that
# both Siamese estimators take. Words not seen in training get the
# unknown-token id.
sequencer = TokenSequencer().fit(train.data)
X_all = sequencer.transform(train.data)
X_train = X_all[keep]
X_trial = sequencer.transform(trial.data)
print(
    f"vocabulary: {sequencer.vocab_size_} ids; pairs of shape {X_all.shape[1:]}"
)

# %%
# The graded recipe: a Siamese regressor on the scores
# ----------------------------------------------------
# One encoder reads both sentences (shared weights): token embeddings, a
# bidirectional LSTM, and max pooling over the words. The regressor scales
# the scores from 1 to 5 to [0, 1] and trains the cosine of the two
# embeddings towards them by the squared error; ``predict`` maps the cosine
# back to the scale of the scores.
#
# Its settings are those of the graded recipe of
# ``benchmarks/sick_relatedness.py`` (the cosine rather than MaLSTM's
# ``exp(-|a - b|_1)``, learning rate 3e-3), which were chosen on a split of
# SICK_train (3,600 pairs to train on, 900 to score), *never on the trial
# pairs*: its trial correlations are a fair estimate. The benchmark trains
# for 18 epochs; to keep this example near a minute it stops after 12,
# where the dev correlation of that selection had already levelled off
# (0.78 from epoch 9 on).
encoder_params = {
    "vocab_size": sequencer.vocab_size_,
    "embedding_dim": 64,
    "hidden_size": 64,
    "cell": "lstm",
    "bidirectional": True,
    "pooling": "max",
}
reg = SiamesePairRegressor(
    "rnn",
    encoder_params=encoder_params,
    n_components=32,
    similarity="cosine",
    lr=3e-3,
    batch_size=64,
    max_epochs=12,
    random_state=0,
)
start = time.perf_counter()
reg.fit(X_all, train.relatedness)
print(f"regressor: {reg.max_epochs} epochs (the benchmark runs 18) on "
      f"{len(X_all)} pairs, trained in {time.perf_counter() - start:.0f} s")

# %%
# The binary recipe: a Siamese classifier on the clear pairs
# ----------------------------------------------------------
# The same encoder, trained by SiamesePairClassifier on the clear pairs
# alone. The contrastive loss on
# the cosine distance pulls the embeddings of "same" pairs together and
# pushes "different" ones at least ``margin`` apart; a tenth of the pairs is
# held out to calibrate the decision threshold ``threshold_``.
#
# These settings come from the binary recipe of
# ``benchmarks/sick_relatedness.py``, where a few distances, margins and
# numbers of epochs were compared *on the trial pairs themselves*: the
# classifier's correlations below are therefore somewhat optimistic. The
# TF-IDF baseline has no settings.
clf = SiamesePairClassifier(
    "rnn",
    encoder_params=encoder_params,
    n_components=32,
    distance="cosine",
    margin=0.5,
    batch_size=64,
    max_epochs=10,
    random_state=0,
)
start = time.perf_counter()
clf.fit(X_train, y_train)
seconds = time.perf_counter() - start
# threshold_ is on the similarity, minus the cosine distance.
print(f"classifier: trained in {seconds:.0f} s; cosine distance threshold "
      f"{-clf.threshold_:.3f}")

# %%
# Correlation with the gold relatedness
# -------------------------------------
# The regressor's ``predict`` is a relatedness on the scale of the scores.
# The classifier's ``decision_function`` is the similarity of a pair (minus
# the cosine distance between the two embeddings) shifted by the threshold,
# so it ranks pairs from least to most alike. The baseline ranks them by the
# cosine
# between their TF-IDF vectors (vocabulary and idf from SICK_train). Spearman's
# correlation compares the rankings with the gold one; Pearson's also asks
# for a straight-line relation.
tfidf = TfidfVectorizer().fit(np.r_[train.sentence_A, train.sentence_B])


def tfidf_cosine(data):
    return 1 - paired_cosine_distances(
        tfidf.transform(data.sentence_A), tfidf.transform(data.sentence_B)
    )


GRADED, BINARY = "Siamese regressor (graded)", "Siamese classifier (binary)"
scores = {
    "TF-IDF cosine (baseline)": tfidf_cosine(trial),
    GRADED: reg.predict(X_trial),
    BINARY: clf.decision_function(X_trial),
}
gold = trial.relatedness
print(f"{'score':<28} {'Pearson':>8} {'Spearman':>9}   (500 trial pairs)")
for name, score in scores.items():
    print(
        f"{name:<28} {pearsonr(score, gold)[0]:>8.3f} {spearmanr(score, gold)[0]:>9.3f}"
    )

# %%
# Accuracy on the clear trial pairs
# ---------------------------------
# On the trial pairs rated 4 or more, or 2.5 or less, both methods decide
# "same" or "different". The Siamese model uses its own ``threshold_``,
# calibrated on held-out training pairs; the TF-IDF cosine gets the threshold
# with the best accuracy on the clear *training* pairs. Neither threshold
# sees the trial pairs.
clear = (gold >= SAME) | (gold <= DIFFERENT)
y_clear = (gold[clear] >= SAME).astype(int)
_, tfidf_threshold = best_threshold_accuracy(y_train, 1 - tfidf_cosine(train)[keep])
tfidf_accuracy = np.mean(((1 - scores["TF-IDF cosine (baseline)"][clear])
                          <= tfidf_threshold) == y_clear)
print(f"accuracy on the {clear.sum()} clear trial pairs "
      f"({y_clear.mean():.0%} of them 'same'):")
print(f"  TF-IDF cosine, threshold from training pairs: {tfidf_accuracy:.3f}")
print(f"  Siamese classifier, threshold_:               "
      f"{clf.score(X_trial[clear], y_clear):.3f}")

# %%
# The scores against the gold ratings
# -----------------------------------
# Each point is a trial pair, coloured by its entailment judgment. The
# dotted line of the middle panel is where the regressor's prediction would
# equal the gold score; the dashed line of the right panel is the
# classifier's threshold: pairs above it are predicted "same meaning".
colors = {"ENTAILMENT": "C2", "NEUTRAL": "C7", "CONTRADICTION": "C3"}
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
for ax, (name, score) in zip(axes, scores.items(), strict=True):
    for label, color in colors.items():
        rows = trial.entailment == label
        ax.scatter(gold[rows], score[rows], s=10, alpha=0.7, color=color,
                   label=label.lower())
    rho = spearmanr(score, gold)[0]
    ax.set_title(f"{name}\nPearson {pearsonr(score, gold)[0]:.3f}, Spearman {rho:.3f}")
    ax.set_xlabel("gold relatedness (1 to 5)")
axes[0].set_ylabel("cosine of the TF-IDF vectors")
axes[1].set_ylabel("predict")
axes[1].plot([1, 5], [1, 5], color="black", linestyle=":", linewidth=1)
axes[2].set_ylabel("decision_function")
axes[2].axhline(0, color="black", linestyle="--", linewidth=1)
# One legend for the three panels, below them, where it hides no pair.
fig.legend(*axes[0].get_legend_handles_labels(), title="entailment",
           loc="outside lower center", ncols=3)
plt.show()

# %%
# Distances of the clear trial pairs, and the training curve
# ----------------------------------------------------------
# :class:`~sksiamese.plotting.PairDistanceDisplay` draws the cosine distance
# between the two embeddings for the "same" and "different" trial pairs, with
# the classifier's threshold; the training curves are those of both models
# (the regressor's loss is a squared error, the classifier's contrastive),
# with, for the classifier, its loss and its accuracy (on the right-hand
# axis) on the training pairs it held out to calibrate its threshold.
fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
PairDistanceDisplay.from_estimator(clf, X_trial[clear], y_clear, ax=axes[0])
axes[0].set_title("classifier: clear trial pairs")
TrainingCurveDisplay.from_estimator(reg, ax=axes[1])
axes[1].set_title("regressor: training loss")
TrainingCurveDisplay.from_estimator(clf, ax=axes[2])
axes[2].set_title("classifier: loss, and accuracy on held-out pairs")
plt.show()

# %%
# Where the network beats term overlap, and where it fails
# --------------------------------------------------------
# Each pair's rank (from 0% for the least related to 100% for the most) by
# each score is compared with its rank by gold relatedness. First, the trial
# pairs that the Siamese regressor ranks much closer to the raters than the
# TF-IDF cosine does; then those it ranks farthest from them.
def ranks(values):
    return rankdata(values) / len(values)


rank_gold = ranks(gold)
rank_tfidf = ranks(scores["TF-IDF cosine (baseline)"])
rank_model = ranks(scores[GRADED])


def show(i):
    print(f"  gold {gold[i]:.1f} (rank {rank_gold[i]:.0%}), TF-IDF rank "
          f"{rank_tfidf[i]:.0%}, Siamese rank {rank_model[i]:.0%}:\n"
          f"    {trial.sentence_A[i]!r} / {trial.sentence_B[i]!r}")


gain = np.abs(rank_tfidf - rank_gold) - np.abs(rank_model - rank_gold)
print("better than TF-IDF:")
for i in np.argsort(-gain)[:3]:
    show(i)
print("farthest from the raters:")
for i in np.argsort(-np.abs(rank_model - rank_gold))[:3]:
    show(i)

# %%
# What to look for
# ----------------
# Trained from scratch, with no word vectors from elsewhere, the regressor
# that learns from the graded scores of all 4,500 training pairs correlates
# best with the raters (Pearson about 0.77 on trial; the benchmark's 18
# epochs give about the same, 0.75 to 0.77 over three seeds), clearly above
# the classifier that sees only the clear pairs as "same" or "different"
# (about 0.69) and the TF-IDF cosine (about 0.63), though still short of the
# 0.88 of the published Siamese LSTM with pretrained vectors. The
# regressor's settings were chosen on a split of SICK_train, the
# classifier's on these trial pairs, so the gap is if anything understated.
# On the clear pairs, where a yes-or-no answer is asked, the classifier and
# the TF-IDF cosine are about as accurate.
#
# The listings show where the graded model gains over term overlap: a
# paraphrase in other words, which shares few terms and which TF-IDF ranks
# low, and a negation or a single changed word ("man" against "woman") in
# otherwise equal sentences, which the raters judge only moderately related
# and TF-IDF ranks near the top. They also show what it has not learned from
# so few pairs: a passive voice can still be ranked far too low, and a word
# that matters ("up" against "down") or a swapped word order can leave its
# score as high as the TF-IDF cosine.
