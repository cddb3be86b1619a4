"""numpydoc validation of nmfdnn's public API.

Walks every name in ``__all__`` of :mod:`nmfdnn` and of its public subpackages (classes with
their public methods and properties defined in nmfdnn) and runs ``numpydoc.validate.validate``
on each.  The checks that fail the run, the names left out and per-check overrides come from
``[tool.numpydoc_validation]`` in ``pyproject.toml`` (the same table ``python -m numpydoc lint``
reads): ``checks`` (``"all"`` followed by the codes to skip), ``exclude`` (regular expressions
searched in the qualified name) and ``override_<CODE>`` (regular expressions searched in the
docstring that silence that check).

Usage::

    python tools/check_docstrings.py            # fails (exit 1) on any finding
    python tools/check_docstrings.py --list     # also print the names it validated
    python tools/check_docstrings.py nmfdnn.estimators.NMF   # only names containing this

Unlike ``python -m numpydoc lint FILE``, which validates every definition of a file (private
helpers included), this validates what a user can import.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

from numpydoc.hooks.validate_docstrings import parse_config
from numpydoc.validate import validate

ROOT = Path(__file__).resolve().parent.parent

#: Packages and modules whose ``__all__`` is the public API.
PUBLIC_MODULES = (
    "nmfdnn",
    "nmfdnn.estimators",
    "nmfdnn.factorizations",
    "nmfdnn.training",
    "nmfdnn.baselines",
    "nmfdnn.datasets",
    "nmfdnn.distributed",
    "nmfdnn.testing",
)


def _defined_in_nmfdnn(obj):
    return (getattr(obj, "__module__", None) or "").startswith("nmfdnn")


def public_names(modules=PUBLIC_MODULES):
    """Qualified names of the public objects, each object once (under its first public name).

    Parameters
    ----------
    modules : sequence of str
        Modules whose ``__all__`` lists the public names.

    Returns
    -------
    list of str
        ``module.name`` for functions and classes, ``module.Class.method`` for the public
        methods and properties a class defines or inherits from nmfdnn (not from
        scikit-learn).
    """
    names, seen = [], set()
    for modname in modules:
        module = importlib.import_module(modname)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue  # constants (BACKENDS, LOSSES) carry no docstring of their own
            seen.add(id(obj))
            qual = f"{modname}.{name}"
            names.append(qual)
            if not inspect.isclass(obj):
                continue
            for attr in sorted(dir(obj)):
                if attr.startswith("_"):
                    continue
                member = inspect.getattr_static(obj, attr)
                func = member.fget if isinstance(member, property) else member
                func = getattr(func, "__func__", func)  # classmethod / staticmethod
                if callable(func) and _defined_in_nmfdnn(func):
                    names.append(f"{qual}.{attr}")
    return names


def load_config(root=ROOT):
    """The ``[tool.numpydoc_validation]`` table of ``pyproject.toml``, resolved.

    Parameters
    ----------
    root : path-like
        Directory holding ``pyproject.toml``.

    Returns
    -------
    checks : set of str
        Codes that fail the run.
    exclude : re.Pattern or None
        Names (qualified) that are not validated.
    overrides : dict of str to re.Pattern
        Per code, docstrings that silence it.
    """
    config = parse_config(root)  # resolves "all" and compiles the regular expressions
    return set(config["checks"]), config["exclude"], config["overrides"]


def run(names, checks, exclude=None, overrides=None):
    """Validate ``names``; the findings that ``checks`` selects.

    Parameters
    ----------
    names : iterable of str
        Qualified names to validate.
    checks : set of str
        Codes that count.
    exclude : re.Pattern, optional
        Names matching it are skipped.
    overrides : dict of str to re.Pattern, optional
        Per code, docstrings that silence it.

    Returns
    -------
    list of tuple
        ``(name, code, message, file:line)``.
    """
    overrides = overrides or {}
    findings = []
    for name in names:
        if exclude is not None and exclude.search(name):
            continue
        report = validate(name)
        doc = report.get("docstring") or ""
        where = f"{report.get('file')}:{report.get('file_line')}"
        for code, message in report["errors"]:
            if code not in checks:
                continue
            if code in overrides and overrides[code].search(doc):
                continue
            findings.append((name, code, message, where))
    return findings


def main(argv=None):
    """Command-line entry point.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when the public API passes, 1 otherwise.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="validate only names containing one of these")
    parser.add_argument("--list", action="store_true", help="print the validated names")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    checks, exclude, overrides = load_config()
    names = public_names()
    if args.only:
        names = [n for n in names if any(s in n for s in args.only)]
    if args.list:
        print("\n".join(names))
    findings = run(names, checks, exclude, overrides)
    for name, code, message, where in findings:
        rel = where.replace(str(ROOT) + "/", "")
        print(f"{rel}: {name}: {code} {message}")
    n_bad = len({f[0] for f in findings})
    print(f"numpydoc: {len(names)} public objects, {len(findings)} findings in {n_bad} of them "
          f"(checks: {', '.join(sorted(checks))})")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
