"""``python -m embedkit``: the same command line as the ``embedkit`` script."""

from embedkit.cli.main import main

if __name__ == "__main__":  # pragma: no cover
    main()
