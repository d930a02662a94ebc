"""Write the format-1 model files that test_persistence loads (kept as written).

Run once, at commit 3d92b48 (before persistence asked each estimator for its
schema), from the repository root::

    python tests/data/make_format1_models.py

Each ``<name>.pt`` holds a small fitted model, and ``format1_expected.npz``
the inputs and the outputs the model gave when it was saved: a later
``load_model`` must give the same outputs.
"""

import os

import numpy as np

from sksiamese import SiamesePairClassifier, SiamesePairRegressor, SiameseTransformer
from sksiamese.persistence import save_model

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)
X = rng.normal(size=(24, 4))
y = np.array(["ant", "bee", "cat"])[np.arange(24) % 3]
pairs = rng.normal(size=(24, 2, 3))
same = np.tile([0, 1], 12)
small = {"n_components": 2, "max_epochs": 2, "batch_size": 8, "random_state": 0,
         "encoder_params": {"hidden_layer_sizes": (4,)}}

emb = SiameseTransformer(**small).fit(X, y)
clf = SiamesePairClassifier(**small).fit(pairs, same)
reg = SiamesePairRegressor(**small).fit(pairs, np.linspace(0, 1, 24))
for name, model in (("transformer", emb), ("pair_classifier", clf),
                    ("pair_regressor", reg)):
    save_model(model, os.path.join(HERE, f"format1_{name}.pt"))
np.savez(os.path.join(HERE, "format1_expected.npz"), X=X, pairs=pairs,
         transform=emb.transform(X), proba=clf.predict_proba(pairs),
         predict=clf.predict(pairs), regress=reg.predict(pairs))
