"""Users' modules imported before a command works: their ``@losses.register`` losses, ``register_dataset`` datasets,
``register_executor`` backends and ``register_section`` report sections. Torch-free itself (``report`` uses it)."""
from __future__ import annotations

import importlib
import importlib.metadata

from .errors import ConfigError

#: The entry-point group through which installed packages register their losses.
ENTRY_POINT_GROUP = "benchmark.losses"


def load_plugins(modules=(), entry_points: bool = True) -> None:
    """Import ``modules`` and, with ``entry_points``, every module of the ``benchmark.losses`` entry-point group, so
    that what they register can be named (``losses:``, ``--executor``) or is used (report sections). Importing
    twice does nothing more."""
    targets = [(module, f"plugin module {module!r}") for module in modules]
    if entry_points:
        targets += [(ep.value.partition(":")[0], f"entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP}")
                    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    for module, what in targets:
        if not all(part.isidentifier() for part in module.split(".")):
            raise ConfigError(f"{what} is not a module name: give its dotted import name (e.g. mypackage.losses), "
                              "with its folder on PYTHONPATH, not a file path")
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"cannot import {what}: {exc}; check that it is on PYTHONPATH or installed") from exc
        except Exception as exc:  # noqa: BLE001 - the user's module failed, not the suite: one line naming it
            raise ConfigError(f"importing {what} raised {type(exc).__name__}: {exc}; fix the module") from exc
