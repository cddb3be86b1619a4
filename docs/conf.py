"""Sphinx configuration of the nmfdnn documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (``bash docs/build.sh`` also checks that
the API reference lists every public name).  The user guide is the Markdown of ``docs/*.md`` and
``README.md`` (through myst-parser); the API reference is generated here from the ``__all__`` of
``nmfdnn`` and of its public subpackages, so a new public name appears without editing anything.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import nmfdnn  # noqa: E402

project = "nmfdnn"
author = "nmfdnn developers"
copyright = "nmfdnn developers"
release = nmfdnn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5",
                    "examples/README.txt"]
html_theme = "alabaster"
html_title = f"nmfdnn {release}"
html_static_path = []
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

#: The public subpackages, in the order their pages appear; an object re-exported by several
#: (e.g. ``nmfdnn.NMF`` and ``nmfdnn.estimators.NMF``) is documented once, at the first.
SUBPACKAGES = {
    "nmfdnn.estimators": "Estimators (scikit-learn style)",
    "nmfdnn.factorizations": "Layer solvers and the NMF family (data as columns)",
    "nmfdnn.training": "Trainers of networks without backpropagation",
    "nmfdnn.baselines": "Backpropagation baseline",
    "nmfdnn.datasets": "Data sets",
    "nmfdnn.evaluation": "Evaluation",
    "nmfdnn.distributed": "Many processes: MPI data parallelism",
    "nmfdnn.testing": "Test helpers",
}

# ---- sphinx-gallery (examples run at build time), if installed ---------------------------------
try:
    import sphinx_gallery  # noqa: F401

    extensions.append("sphinx_gallery.gen_gallery")
    sphinx_gallery_conf = {
        "examples_dirs": str(ROOT / "examples"),
        "gallery_dirs": str(DOCS / "auto_examples"),
        "filename_pattern": r"/plot_",
        "download_all_examples": False,
        "remove_config_comments": True,
        "image_scrapers": ("matplotlib",),
        "within_subsection_order": "FileNameSortKey",
        "show_memory": False,
        "plot_gallery": "True",
    }
    HAVE_GALLERY = True
except ImportError:  # pragma: no cover
    HAVE_GALLERY = False


def _public(module):
    import importlib

    return importlib.import_module(module), list(importlib.import_module(module).__all__)


def _canonical():
    """{id(object): dotted name of its one documented location}."""
    where = {}
    for module in SUBPACKAGES:
        mod, names = _public(module)
        for name in names:
            where.setdefault(id(getattr(mod, name)), f"{module}.{name}")
    for name in nmfdnn.__all__:
        where.setdefault(id(getattr(nmfdnn, name)), f"nmfdnn.{name}")
    return where


def _role(obj):
    import inspect

    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "func"
    return "data"


def _write_api():
    """docs/api/*.rst: one page per public module, every name of its ``__all__``."""
    out = DOCS / "api"
    out.mkdir(exist_ok=True)
    where = _canonical()
    pages = {"nmfdnn": "Top-level package"} | SUBPACKAGES
    index = ["API reference", "=============", "",
             "Every public name of ``nmfdnn`` and of its public subpackages (their ``__all__``).",
             "Data are columns in :mod:`nmfdnn.factorizations` and :mod:`nmfdnn.training`, rows "
             "(scikit-learn) in the estimators.", "", ".. toctree::", "   :maxdepth: 1", ""]
    for module, title in pages.items():
        mod, names = _public(module)
        own = [n for n in names if where[id(getattr(mod, n))] == f"{module}.{n}"]
        elsewhere = [n for n in names if n not in own]
        heading = f"``{module}``: {title}"
        lines = [heading, "=" * len(heading), "", f".. automodule:: {module}", "   :no-members:",
                 "", f".. currentmodule:: {module}", ""]
        if own:
            lines += [".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
            lines += [f"   {n}" for n in sorted(own, key=str.lower)] + [""]
        if elsewhere:
            lines += ["Also available here (documented at their home module):", ""]
            for n in sorted(elsewhere, key=str.lower):
                obj = getattr(mod, n)
                lines.append(f"- ``{module}.{n}``: :py:{_role(obj)}:`{where[id(obj)]}`")
            lines.append("")
        (out / f"{module}.rst").write_text("\n".join(lines))
        index.append(f"   {module}")
    (out / "index.rst").write_text("\n".join(index) + "\n")


_LINKS = re.compile(r"\]\((?!https?://|#)([^)#]+)(#[^)]*)?\)")


def _write_guide():
    """README.md and CONTRIBUTING.md as guide pages, their relative links made to work from
    docs/ (``docs/X.md`` -> ``X.md``, other repository files -> ``../X``)."""
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)

    def relink(match):
        target, anchor = match.group(1), match.group(2) or ""
        if target.startswith("docs/"):
            target = "../" + target[len("docs/"):]
        elif target == "CONTRIBUTING.md":
            target = "contributing.md"
        elif target == "README.md":
            target = "readme.md"
        else:
            target = "../../" + target
        return f"]({target}{anchor})"

    for src, dst in (("README.md", "readme.md"), ("CONTRIBUTING.md", "contributing.md")):
        text = (ROOT / src).read_text()
        (out / dst).write_text(_LINKS.sub(relink, text))


_write_api()
_write_guide()
os.environ.setdefault("MPLBACKEND", "Agg")

#: The site's table of contents, appended to docs/index.md when Sphinx reads it (so that the
#: Markdown file stays plain Markdown on a code host).
TOCTREE = ["_generated/readme", "solvers", "ALGORITHMS", "mnist", "orl", "hpc", "benchmarks",
           *(["auto_examples/index"] if HAVE_GALLERY else []), "api/index",
           "_generated/contributing"]
#: Links of the Markdown pages to files outside docs/, as the site serves them.
_OUTSIDE = {"](../README.md": "](_generated/readme.md",
            "](../CONTRIBUTING.md": "](_generated/contributing.md"}


_OUTSIDE_MD = re.compile(r"\]\(\.\./((?!README|CONTRIBUTING)[^)#]+\.md)(#[^)]*)?\)")


def _copy_outside():
    """Markdown files elsewhere in the repository that the pages link to (results tables):
    copied into _generated/ as orphan pages, before Sphinx looks for its documents."""
    for page in DOCS.glob("*.md"):
        for match in _OUTSIDE_MD.finditer(page.read_text()):
            rel = match.group(1)
            dst = DOCS / "_generated" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text("---\norphan: true\n---\n\n" + (ROOT / rel).read_text())


_copy_outside()


def _source_read(app, docname, source):
    text = source[0]
    for old, new in _OUTSIDE.items():
        text = text.replace(old, new)
    if "/" not in docname:
        text = _OUTSIDE_MD.sub(lambda m: f"](_generated/{m.group(1)}{m.group(2) or ''})", text)
    if docname == "index":
        text += "\n```{toctree}\n:hidden:\n:maxdepth: 2\n\n" + "\n".join(TOCTREE) + "\n```\n"
    source[0] = text


_REF = re.compile(r":ref:`([^`<]*?)\s*(?:<([^`>]*)>)?`")


def _foreign_refs(app, what, name, obj, options, lines):
    """Docstrings inherited from scikit-learn (``score``) cite its own labels: show them as
    text here."""
    if not name.startswith("nmfdnn") or getattr(obj, "__module__", "nmfdnn").startswith("nmfdnn"):
        return
    lines[:] = [_REF.sub(lambda m: m.group(1) or m.group(2), line) for line in lines]


def setup(app):
    app.connect("source-read", _source_read)
    app.connect("autodoc-process-docstring", _foreign_refs)
