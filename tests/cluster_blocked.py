"""A Dask scheduler or worker that cannot import the toolkit, for tests/test_cluster.py.

``python tests/cluster_blocked.py scheduler|worker [dask's own options]`` runs Dask's
command with our modules hidden, as on a machine where the toolkit was never installed.
"""
import importlib.abc
import sys

HIDDEN = {"extractor", "essentia_engine", "va_utils", "va_yamnet", "va_cluster"}


class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Hide())
role = sys.argv.pop(1)
if role == "scheduler":
    from distributed.cli.dask_scheduler import main
else:
    from distributed.cli.dask_worker import main
sys.exit(main())
