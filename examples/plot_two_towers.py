"""
=========================================================
Two kinds of input, two towers: digits against thumbnails
=========================================================

A Siamese network usually compares two things of one kind with one network.
Some tasks compare two *kinds* of input: a photograph against a sketch, a
signature against a scan, a sentence against an image. Each kind then needs
its own network (a *tower*), and training makes the two towers embed
matching inputs close together, in one shared space.

Here the two kinds are scikit-learn's 8x8 digits and a degraded view of them:
a 4x4 thumbnail (each pixel the mean of a 2x2 block), mirrored left to right,
as if from a second, cruder sensor. :class:`~sksiamese.SiamesePairClassifier`
with ``share_weights=False`` and a ``right_encoder`` of its own learns from
pairs (an image, a thumbnail) labelled "same digit" or "different digit";
``transform_left`` and ``transform_right`` then embed each kind alone, for a
search across the two kinds.
"""

# %%
# The two kinds of input
# ----------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors

from sksiamese import SiamesePairClassifier
from sksiamese.plotting import EmbeddingDisplay, PairDistanceDisplay

X, y = load_digits(return_X_y=True)
X = X / 16  # pixels in [0, 1]


def thumbnail(images):
    """4x4 thumbnails of 8x8 images (2x2 block means), mirrored left to right."""
    small = images.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4))
    return small[:, :, ::-1].reshape(len(images), 16)


T = thumbnail(X)
print(f"images: {X.shape[1]} pixels each; thumbnails: {T.shape[1]} pixels each")

fig, axes = plt.subplots(2, 8, figsize=(8, 2.4), layout="constrained")
for j, ax in enumerate(axes.T):
    ax[0].imshow(X[j].reshape(8, 8), cmap="gray_r")
    ax[1].imshow(T[j].reshape(4, 4), cmap="gray_r")
    ax[0].set_title(str(y[j]))
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("the left kind (8x8 images) above, the right kind (4x4 mirrored) below")
plt.show()

# %%
# Pairs of an image and a thumbnail
# ---------------------------------
# Three fifths of the images are for training, the rest for testing, so that
# no image or thumbnail of the tests was seen in training. Each training
# image is paired with the thumbnails of five other images of its digit
# ("same", 1) and of five images of other digits ("different", 0).
#
# The two sides differ in width (64 against 16 values), so the pairs cannot
# be one ``(n_pairs, 2, n_features)`` array: each pair is a row of the
# image's 64 pixels followed by the thumbnail's 16, and ``split=64`` tells
# the classifier where the left sample ends.
idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.4,
                                       stratify=y, random_state=0)
rng = np.random.default_rng(0)


def image_thumbnail_pairs(idx, per_image=5):
    left, right, same = [], [], []
    for i in idx:
        mates = idx[(y[idx] == y[i]) & (idx != i)]
        others = idx[y[idx] != y[i]]
        left += [i] * (2 * per_image)
        right += [*rng.choice(mates, per_image, replace=False),
                  *rng.choice(others, per_image, replace=False)]
        same += [1] * per_image + [0] * per_image
    return np.hstack([X[left], T[right]]), np.array(same)


pairs_train, same_train = image_thumbnail_pairs(idx_train)
pairs_test, same_test = image_thumbnail_pairs(idx_test)
print(f"training pairs: {pairs_train.shape}; test pairs: {pairs_test.shape}")

# %%
# Two towers
# ----------
# ``share_weights=False`` gives each side a network of its own;
# ``right_encoder`` and ``right_encoder_params`` make the right one smaller,
# for the smaller input. Both embed into the same 16 dimensions, and the
# contrastive loss on the distance between the two embeddings trains them
# together. The settings are the library's defaults with 20 epochs; they
# were not tuned on the test images.
clf = SiamesePairClassifier(
    "mlp",
    share_weights=False,
    right_encoder="mlp",
    right_encoder_params={"hidden_layer_sizes": (64, 64)},
    split=64,
    max_epochs=20,
    random_state=0,
)
clf.fit(pairs_train, same_train)
for side in ("left", "right"):
    tower = getattr(clf.net_.module_, side)
    n_weights = sum(p.numel() for p in tower.parameters())
    print(f"{side} tower: {type(tower).__name__}, {n_weights} weights")
# ``threshold_`` is calibrated on a tenth of the training pairs, held out
# from training; it is on the similarity, minus the distance.
print(f"accuracy on the test pairs (half 'same'): "
      f"{clf.score(pairs_test, same_test):.3f}; distance threshold "
      f"{-clf.threshold_:.3f}")

PairDistanceDisplay.from_estimator(clf, pairs_test, same_test)
plt.title("test pairs (image, thumbnail)")
plt.show()

# %%
# Searching across the two kinds
# ------------------------------
# The test images are cut in two halves: a gallery and a set of queries. The
# gallery's images are embedded with ``transform_left``, the queries'
# thumbnails with ``transform_right``; each query retrieves the nearest
# gallery images. A query finds its own digit when the retrieved images show
# the same digit (precision at 1 and at 5). The search also runs the other
# way, images against a gallery of thumbnails.
gallery, queries = idx_test[::2], idx_test[1::2]


def precision_at(k, gallery_embedding, query_embedding):
    nearest = NearestNeighbors(n_neighbors=k).fit(gallery_embedding)
    found = nearest.kneighbors(query_embedding, return_distance=False)
    return np.mean(y[gallery][found] == y[queries][:, None]), found


p1, _ = precision_at(1, clf.transform_left(X[gallery]), clf.transform_right(T[queries]))
p5, found = precision_at(5, clf.transform_left(X[gallery]),
                         clf.transform_right(T[queries]))
q1, _ = precision_at(1, clf.transform_right(T[gallery]), clf.transform_left(X[queries]))
print(f"{len(queries)} queries, a gallery of {len(gallery)}:")
print(f"  thumbnail -> images, Siamese towers: precision@1 {p1:.3f}, @5 {p5:.3f}")
print(f"  image -> thumbnails, Siamese towers: precision@1 {q1:.3f}")

# %%
# For comparison: the towers never learned what a thumbnail *is*, only which
# pairs show the same digit. A baseline that does know (it shrinks and
# mirrors the gallery images itself, then compares pixels) and the search
# among images of one kind (images against images, raw pixels) bound what a
# search can reach here; chance is about 0.1.
pixels_known, _ = precision_at(1, T[gallery], T[queries])
pixels_same_kind, _ = precision_at(1, X[gallery], X[queries])
print(f"  thumbnail -> thumbnails of the gallery, raw pixels (mapping known): "
      f"precision@1 {pixels_known:.3f}")
print(f"  image -> images, raw pixels (one kind only): precision@1 "
      f"{pixels_same_kind:.3f}")

# %%
# Some queries and what they retrieve
# -----------------------------------
# Each row: a query thumbnail, then the five nearest gallery images in the
# shared embedding, titled green where the digit matches, red where not.
fig, axes = plt.subplots(6, 6, figsize=(6, 6.6), layout="constrained")
for row, q in zip(axes, range(0, 6 * 7, 7), strict=True):
    row[0].imshow(T[queries[q]].reshape(4, 4), cmap="gray_r")
    row[0].set_title(f"query ({y[queries[q]]})", fontsize=9)
    for ax, g in zip(row[1:], found[q], strict=True):
        ax.imshow(X[gallery[g]].reshape(8, 8), cmap="gray_r")
        ok = y[gallery[g]] == y[queries[q]]
        ax.set_title(str(y[gallery[g]]), fontsize=9, color="green" if ok else "red")
for ax in axes.ravel():
    ax.set_axis_off()
plt.show()

# %%
# One space for both kinds
# ------------------------
# The embeddings of the test images (dots) and of the test thumbnails
# (crosses), projected together onto their first two principal components:
# a digit's images and thumbnails share a region.
left_emb = clf.transform_left(X[idx_test])
right_emb = clf.transform_right(T[idx_test])
coords = PCA(n_components=2).fit_transform(np.vstack([left_emb, right_emb]))
n = len(idx_test)
fig, ax = plt.subplots(figsize=(6.5, 5), layout="constrained")
EmbeddingDisplay(coords[:n], y[idx_test], axis_labels=("PCA 1", "PCA 2")).plot(
    ax=ax, marker="o", s=8)
EmbeddingDisplay(coords[n:], y[idx_test], axis_labels=("PCA 1", "PCA 2")).plot(
    ax=ax, marker="x", s=14, legend=False)
ax.set_title("images (dots) and thumbnails (crosses)")
plt.show()

# %%
# What to look for
# ----------------
# Two towers trained only on "same digit or not" put images and thumbnails
# in one space. In the run shown here, a thumbnail finds images of its digit
# about as often as comparing pixels does when the mapping from image to
# thumbnail is known, and an image finds thumbnails of its digit more often
# than that: the query carries more of the digit than a thumbnail does. In
# practice the mapping between two kinds of input is rarely known (another
# sensor, another language, another modality), and learning it from pairs
# is the point. The thumbnails hold less than the images, so the search
# among images alone stays the ceiling. The same code works for any two kinds of
# input: pass each pair as the left sample's values followed by the right
# sample's, ``split`` where one ends, and give each side the encoder that
# suits it (``encoder``, ``right_encoder``, with their ``input_shape`` and
# ``right_input_shape`` for images).
