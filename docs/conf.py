"""Sphinx configuration of the sksiamese documentation."""

import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import sksiamese  # noqa: E402

project = "sksiamese"
author = "the sksiamese developers"
copyright = "the sksiamese developers, BSD-3-Clause licence"
version = release = sksiamese.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_gallery_src",
    "gallery_header.rst",
    "Thumbs.db",
    ".DS_Store",
]
root_doc = "index"
default_role = "literal"

# -- API reference ------------------------------------------------------------
# Each public module's page lists the names in its ``__all__`` (and only
# those), so new public names appear without editing api.rst.
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = True
# Methods a class inherits from the package's base classes (SiameseBase.fit,
# PairBase.transform_left) are its own API; scikit-learn's, torch's and
# skorch's base classes are documented there.
autodoc_default_options = {"members": True,
                           "inherited-members": "BaseEstimator, Module, Callback"}
autodoc_typehints = "none"
# numpydoc renders the sections; autosummary lists the methods in the class
# template, so numpydoc's own member tables would list them twice.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- gallery ------------------------------------------------------------------
# The examples are plain scripts in ../examples, run by the tests and by hand;
# the gallery header belongs to the docs. sphinx-gallery wants the header in
# the examples folder, so the plot_*.py scripts are copied beside the header
# into a staging folder (ignored by git) before each build. With no plot_*.py
# at all the gallery page shows the header only.
GALLERY_SRC = DOCS / "_gallery_src"


def _stage_gallery():
    GALLERY_SRC.mkdir(exist_ok=True)
    wanted = {p.name: p for p in sorted((ROOT / "examples").glob("plot_*.py"))}
    for stale in GALLERY_SRC.glob("*.py"):
        if stale.name not in wanted:
            stale.unlink()
    for name, source in wanted.items():
        target = GALLERY_SRC / name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
    shutil.copyfile(DOCS / "gallery_header.rst", GALLERY_SRC / "GALLERY_HEADER.rst")


_stage_gallery()

# The Omniglot and SICK examples read their data from $SKSIAMESE_DATA
# (sksiamese.datasets.get_data_home); point it at the project's shared data
# folder, beside the checkout, where that folder exists and nothing else was
# set. Otherwise the examples download the data.
_SHARED_DATA = ROOT.parent / "shared" / "data"
if not os.environ.get("SKSIAMESE_DATA") and _SHARED_DATA.is_dir():
    os.environ["SKSIAMESE_DATA"] = str(_SHARED_DATA)

sphinx_gallery_conf = {
    "examples_dirs": [str(GALLERY_SRC)],
    "gallery_dirs": ["auto_examples"],
    # Run every plot_*.py; an example that fails fails the build.
    "filename_pattern": r"plot_",
    "ignore_pattern": r"^(?!plot_)",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sksiamese",),
    "reference_url": {"sksiamese": None},
    "backreferences_dir": "api/generated/backreferences",
    "image_scrapers": ("matplotlib",),
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    # SKSIAMESE_DOCS_NO_PLOT=1 builds the pages without running the examples.
    "plot_gallery": "False" if os.environ.get("SKSIAMESE_DOCS_NO_PLOT") else "True",
    "reset_modules": ("matplotlib",),
}

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sksiamese {release}"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
html_show_sourcelink = False


def _skip_metadata_requests(app, what, name, obj, skip, options):
    # scikit-learn adds set_fit_request, set_score_request, ... to every
    # estimator for metadata routing; they say nothing about sksiamese.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    # Methods inherited from scikit-learn's mixins (score, set_output,
    # get_metadata_routing, ...) are documented by scikit-learn, with links
    # into its own pages.
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and module.startswith("sklearn."):
        return True
    return None


# Docstrings name fitted attributes plainly, as in "shape (n_features_in_,)";
# reStructuredText reads a word ending in "_" as a link to a target of that
# name. Escape such words outside literals, doctests and code blocks.
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w`\\|])([A-Za-z][A-Za-z0-9_]*)_(?![\w`])")
_LITERAL = re.compile(r"(``.+?``|`[^`]*`_{0,2}|\|[^|]+\|_{0,2})")


def _escape_trailing_underscores(app, what, name, obj, options, lines):
    literal_indent = None  # indentation of the line that opened a literal block
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if not stripped:
            in_doctest = False
            continue
        if literal_indent is not None:
            if indent > literal_indent:
                continue
            literal_indent = None
        if in_doctest or stripped.startswith(">>>"):
            in_doctest = True
            continue
        if stripped.endswith("::") or stripped.startswith(".. "):
            literal_indent = indent
            if stripped.startswith(".. "):
                continue
        parts = _LITERAL.split(line)
        lines[i] = "".join(
            part if j % 2 else _TRAILING_UNDERSCORE.sub(r"\1\\_", part)
            for j, part in enumerate(parts)
        )


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
    app.connect("autodoc-process-docstring", _escape_trailing_underscores)
