"""The ``embedkit`` command line: a thin click layer over the library.

Installed as ``embedkit.cli``.  One module per command group; :mod:`embedkit.cli.main`
holds the root group and loads each command's module only when that command runs,
so ``embedkit --help`` starts without importing Numba or FAISS.
"""
