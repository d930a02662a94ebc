"""
==================================================================
Digits in two dimensions: the contrastive loss with SGD and Adam
==================================================================

A Siamese network learns an embedding from class labels alone: samples of one
class are pulled together, samples of different classes pushed at least a
``margin`` apart (the contrastive loss of Hadsell, Chopra and LeCun, 2006).
With ``n_components=2`` the embedding can be looked at directly, as in the
classic MNIST Siamese write-ups.

Here :class:`~sksiamese.SiameseTransformer` learns a 2-D embedding of
scikit-learn's 8x8 digits twice, with the same network, loss, seed and number
of epochs, once with SGD (momentum 0.9) and once with Adam, and
:class:`~sksiamese.plotting.EmbeddingDisplay` draws the digits it did not
train on.
"""

# %%
# The data
# --------
# 1797 digits of 64 pixels; three quarters train the network, the rest are
# only embedded.
import time

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksiamese import SiameseTransformer
from sksiamese.plotting import EmbeddingDisplay, TrainingCurveDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Two optimizers, everything else equal
# -------------------------------------
# Each optimizer gets a learning rate that trains. SGD with momentum 0.9 is
# the touchier one here: at ``lr=0.02`` its loss became NaN in the second
# epoch (the estimator stops, warns and keeps the first epoch's weights,
# which leaves a scattered, diverged embedding), at 0.005 in the fourth,
# while 0.001 trains all 30 epochs; Adam takes its usual 0.003. The
# pipeline scales the pixels first, and the 1-nearest-neighbour classifier
# after it measures how well the 2-D embedding separates the digits it has
# not seen.
optimizers = {"sgd": 0.001, "adam": 0.003}
models = {}
for optimizer, lr in optimizers.items():
    siamese = SiameseTransformer(
        n_components=2,
        loss="contrastive",
        margin=1.0,
        optimizer=optimizer,
        lr=lr,
        max_epochs=30,
        random_state=0,
    )
    model = make_pipeline(StandardScaler(), siamese, KNeighborsClassifier(1))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    models[optimizer] = model
    print(
        f"{optimizer:>4}: trained in {seconds:.1f} s, 1-NN accuracy in 2-D "
        f"{model.score(X_test, y_test):.3f}"
    )

baseline = make_pipeline(StandardScaler(), KNeighborsClassifier(1))
baseline.fit(X_train, y_train)
print(f"raw pixels (64-D): 1-NN accuracy {baseline.score(X_test, y_test):.3f}")

# %%
# The embeddings of the test digits
# ---------------------------------
# The embedding is 2-D, so the points are drawn as they are, without a
# projection.
fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
for ax, (optimizer, model) in zip(axes, models.items(), strict=True):
    embed = model[:-1]  # the scaler and the Siamese transformer
    EmbeddingDisplay.from_estimator(embed, X_test, y_test, ax=ax, s=10)
    ax.set_title(f"optimizer={optimizer!r}")
    ax.set_aspect("equal", adjustable="datalim")
plt.show()

# %%
# The training curves
# -------------------
# ``history_`` holds skorch's per-epoch records of each fit; ``name`` tells
# the two curves apart in the legend, each curve has its own colour and
# markers, and a logarithmic axis keeps Adam's low, flat curve from being
# pressed against the bottom by SGD's jump.
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for optimizer, model in models.items():
    TrainingCurveDisplay.from_estimator(model[1], ax=ax, name=optimizer,
                                        log_scale=True)
ax.set_title("contrastive loss per epoch")
plt.show()

# %%
# What to look for
# ----------------
# The contrastive loss asks that digits of one class lie close together and
# that different digits end up at least ``margin`` apart, and nothing about
# where; in two dimensions that leaves room for many layouts. From the same
# initial weights and batches, the two optimizers take different paths: SGD
# with momentum follows the raw gradients, whose size varies widely from one
# weight to another, while Adam rescales each weight's step so that all of
# them move at a similar pace. In the run shown here, SGD's loss jumps
# about tenfold between epochs 5 and 10, while its rate is near its peak,
# and settles as the cosine schedule lowers the rate; Adam's falls steadily,
# reaches a lower loss in the same 30 epochs and draws tighter, rounder
# clusters with more empty space between them; SGD's clusters are smaller
# and crowd each other in the middle, with stray digits between them. The
# printed accuracies say how much of that matters to a nearest-neighbour
# classifier: a 2-D embedding keeps most, but not all, of
# what 1-NN on the 64 raw pixels achieves, which is the honest baseline for
# ten classes with plenty of examples each. Siamese networks earn their keep
# where classes have few examples or were never seen in training (one-shot
# learning), and where the embedding must be small.
