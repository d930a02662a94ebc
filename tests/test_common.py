"""What every estimator of the package must pass, run over all of them.

scikit-learn's own checks; clone; a pickle round trip; the same random_state
giving the same result (sequentially and in threads) while the user's global
generators stay untouched. Behaviour specific to one estimator is tested in
its module's file.
"""

import pickle
import re

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksiamese import (
    OneShotClassifier,
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
)

SMALL = {"max_epochs": 2, "batch_size": 32, "random_state": 0}
PAIR_SMALL = {"n_components": 4, "encoder_params": {"hidden_layer_sizes": (16,)},
              "batch_size": 32, "max_epochs": 3, "random_state": 0}

# Some checks label pairs 1 and 2 (or with strings): which one means "same" is
# then ambiguous, and SiamesePairClassifier refuses to guess (pos_label says
# it; see tests/test_pairs.py). Those checks fail with that error, and only it.
_NEED_POS_LABEL = ("check_estimators_dtypes", "check_classifier_data_not_an_array",
                   "check_classifiers_classes", "check_fit2d_predict1d")


def _expected_failures(estimator):
    if isinstance(estimator, SiamesePairClassifier):
        return dict.fromkeys(
            _NEED_POS_LABEL, "labels other than 0/1, -1/1 or booleans need pos_label")
    return {}


# scikit-learn's checks pass 2-D rows of any width, including odd ones: with
# share_weights=False the two sides (the halves of each row) may differ in
# width, so every check applies to the pair classifier.
@parametrize_with_checks(
    [SiameseTransformer(**SMALL),
     SiamesePairClassifier(share_weights=False, **PAIR_SMALL),
     SiamesePairRegressor(share_weights=False, **{**PAIR_SMALL, "max_epochs": 1}),
     OneShotClassifier(SiameseTransformer(**SMALL))],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- the same contract, on data each estimator is meant for -------------------------
def _pairs(digits300):
    X, y = digits300
    rng = np.random.default_rng(0)
    left = rng.integers(len(X), size=200)
    right = np.where(np.arange(200) % 2 == 0,
                     [rng.choice(np.flatnonzero(y == y[i])) for i in left],
                     rng.integers(len(X), size=200))
    return np.stack([X[left], X[right]], axis=1), (y[left] == y[right]).astype(int)


def _graded(pairs_and_same):
    # A graded target: how alike the two sides are, from 1 to 5.
    pairs, same = pairs_and_same
    closeness = np.exp(-np.abs(pairs[:, 0] - pairs[:, 1]).mean(axis=1))
    return pairs, 1 + 2 * same + 2 * closeness


CASES = {
    "SiameseTransformer": (lambda seed: SiameseTransformer(**{**SMALL,
                                                              "random_state": seed}),
                           lambda d: d, "transform"),
    "SiamesePairClassifier": (
        lambda seed: SiamesePairClassifier(**{**PAIR_SMALL, "random_state": seed}),
        _pairs, "decision_function"),
    "SiamesePairRegressor": (
        lambda seed: SiamesePairRegressor(**{**PAIR_SMALL, "random_state": seed}),
        lambda d: _graded(_pairs(d)), "predict"),
    # An unfitted transformer is fitted (a clone) on the support set.
    "OneShotClassifier": (
        lambda seed: OneShotClassifier(SiameseTransformer(**{**SMALL,
                                                             "random_state": seed}),
                                       rule="prototype"),
        lambda d: d, "predict_proba"),
}
NAMES = list(CASES)


def _case(name, digits300, seed=0):
    make, data, output = CASES[name]
    X, y = data(digits300)
    return make(seed), X, y, output


@pytest.mark.parametrize("name", NAMES)
def test_clone_gives_an_unfitted_copy(name, digits300):
    est, X, y, _ = _case(name, digits300)
    est.fit(X, y)
    copy = clone(est)
    assert copy.get_params().keys() == est.get_params().keys()
    assert not [k for k in vars(copy) if k.endswith("_") and not k.startswith("_")]


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip_gives_identical_outputs(name, digits300):
    est, X, y, output = _case(name, digits300)
    est.fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(getattr(restored, output)(X),
                                  getattr(est, output)(X))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_result_and_global_rngs_untouched(name, digits300):
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    outputs = []
    for seed in (7, 7, 8):
        est, X, y, output = _case(name, digits300, seed)
        outputs.append(getattr(est.fit(X, y), output)(X))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)


@pytest.mark.parametrize("backend", ["threading", "loky"])
@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_result_in_any_joblib_backend(name, backend, digits300):
    est, X, y, output = _case(name, digits300)
    sequential = getattr(clone(est).fit(X, y), output)(X)
    before = torch.get_rng_state()
    results = Parallel(n_jobs=2, backend=backend)(
        delayed(lambda e: getattr(e.fit(X, y), output)(X))(clone(est))
        for _ in range(3))
    assert torch.equal(torch.get_rng_state(), before)
    for result in results:
        np.testing.assert_array_equal(result, sequential)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_validated_in_fit_not_in_init(name, digits300):
    est, X, y, _ = _case(name, digits300)
    bad = {"SiameseTransformer": {"lr": -1.0}, "SiamesePairClassifier": {"lr": -1.0},
           "SiamesePairRegressor": {"lr": -1.0},
           "OneShotClassifier": {"temperature": -1.0}}[name]
    est.set_params(**bad)  # accepted as it is
    with pytest.raises(ValueError, match=re.escape(list(bad)[0])):
        est.fit(X, y)


def _import_graph():
    # Every import between the package's modules, function-level ones too.
    import ast
    from pathlib import Path

    import sksiamese

    root = Path(sksiamese.__file__).parent
    modules = {p.relative_to(root).with_suffix("").as_posix().replace("/", "."): p
               for p in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name.rsplit(".", 1)[0] if "." in name else ""
        if path.name == "__init__.py":
            package = name.removesuffix(".__init__") if name != "__init__" else ""
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join([*base, *([node.module] if node.module else [])])
            for candidate in [target] + [f"{target}.{a.name}".lstrip(".")
                                         for a in node.names]:
                for key in (candidate, f"{candidate}.__init__"):
                    if key in modules and key != name and key != "__init__":
                        found.add(key)
        graph[name] = found
    return graph


def test_the_package_has_no_import_cycle():
    # Imports go one way: a lower module never imports a higher one back.
    graph = _import_graph()
    order = []  # modules in an order where each comes after what it imports
    while len(order) < len(graph):
        ready = [m for m in sorted(graph) if m not in order and graph[m] <= set(order)]
        assert ready, f"import cycle among {sorted(set(graph) - set(order))}"
        order += ready


def test_the_private_engine_imports_no_higher_public_module():
    # The private modules (the net, its callbacks, criteria, checks, base)
    # are below the estimators, the metrics, the plots and persistence.
    higher = {"metrics", "plotting", "persistence", "transformer", "pairs",
              "pair_regressor", "one_shot", "classifier"}
    graph = _import_graph()
    for name, imported in graph.items():
        if name.rsplit(".", 1)[-1].startswith("_") and not name.endswith("__init__"):
            assert not imported & higher, (name, sorted(imported & higher))
