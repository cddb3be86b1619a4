"""Check a built site: every name of ``nmfdnn.__all__`` and of the public subpackages'
``__all__`` is in its object inventory (``objects.inv``), i.e. documented and linkable.

Usage: ``python docs/check_api.py docs/_build/html``.
"""

import importlib
import sys
from pathlib import Path

from sphinx.util.inventory import InventoryFile

MODULES = ["nmfdnn", "nmfdnn.estimators", "nmfdnn.factorizations", "nmfdnn.training",
           "nmfdnn.baselines", "nmfdnn.datasets", "nmfdnn.evaluation", "nmfdnn.distributed",
           "nmfdnn.testing"]


def main(html):
    with open(Path(html) / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", lambda base, uri: uri)
    documented = {name for kind, entries in inventory.items() if kind.startswith("py:")
                  for name in entries}
    documented_objects = set()
    for name in documented:
        module, _, attr = name.rpartition(".")
        try:
            documented_objects.add(id(getattr(importlib.import_module(module), attr)))
        except (ImportError, AttributeError, ValueError):
            pass
    missing, total = [], 0
    for module in MODULES:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            total += 1
            if f"{module}.{name}" not in documented and id(getattr(mod, name)) not in (
                    documented_objects):
                missing.append(f"{module}.{name}")
    if missing:
        print(f"API reference misses {len(missing)} public names: {', '.join(missing)}")
        return 1
    print(f"API reference: all {total} public names of {len(MODULES)} modules documented")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/_build/html"))
