"""Grid search on a Dask cluster gives what it gives on one machine."""

import re

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sksiamese import SiameseTransformer

REASON = "needs dask.distributed: pip install 'sksiamese[dask]'"
# ImportError, not only ModuleNotFoundError: a broken install skips too.
pytest.importorskip("dask", reason=REASON, exc_type=ImportError)
distributed = pytest.importorskip("distributed", reason=REASON, exc_type=ImportError)
joblib = pytest.importorskip("joblib")


def search():
    pipe = make_pipeline(
        SiameseTransformer(n_components=4, max_epochs=2, batch_size=64,
                           random_state=0),
        KNeighborsClassifier(n_neighbors=1),
    )
    grid = {"siamesetransformer__margin": [0.5, 2.0],
            "siamesetransformer__optimizer": ["adam", "sgd"]}
    return GridSearchCV(pipe, grid, cv=StratifiedKFold(3), error_score="raise")


@pytest.mark.slow
def test_grid_search_on_a_local_dask_cluster_matches_the_local_run():
    X, y = load_digits(return_X_y=True)
    X, y = X[:240] / 16.0, y[:240]
    local = search().fit(X, y)

    # Worker processes, not threads: each fit seeds torch's global generator
    # for a moment (weight initialisation), which threads would share.
    with distributed.LocalCluster(
        host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks, \
                joblib.parallel_config(backend="dask"):
            remote = search().set_params(n_jobs=-1).fit(X, y)
    # joblib sends fits in batches, named "batch_of__fit_and_score_<n>_calls".
    fits = [task for task in tasks.data if "_fit_and_score_" in task["key"]]
    n_fits = sum(int(re.search(r"_fit_and_score_(\d+)_calls", task["key"])[1])
                 for task in fits)
    assert n_fits == 4 * 3  # every setting, every fold, on the cluster
    assert all(task["worker"].startswith("tcp://127.0.0.1:") for task in fits)
    assert remote.best_params_ == local.best_params_
    for key in ("params", "rank_test_score"):
        assert list(remote.cv_results_[key]) == list(local.cv_results_[key])
    scores = remote.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores, local.cv_results_["mean_test_score"])


@pytest.mark.slow
def test_embedding_a_dask_array_on_a_local_cluster_equals_transform():
    da = pytest.importorskip("dask.array", reason=REASON, exc_type=ImportError)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    emb = SiameseTransformer(n_components=4, max_epochs=2, random_state=0).fit(X, y)
    # Data larger than memory arrives in chunks of rows; each worker embeds its
    # chunks with the fitted transformer (pickled to it), and the embedding
    # stays a lazy Dask array until computed or written.
    chunks = da.from_array(X, chunks=(400, X.shape[1]))
    lazy = chunks.map_blocks(emb.transform, dtype=np.float32,
                             chunks=(400, emb.n_components_))
    with distributed.LocalCluster(
        host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster):
        result = lazy.compute()
    np.testing.assert_array_equal(result, emb.transform(X))
