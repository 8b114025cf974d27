"""``python -m ganforge`` is ``ganforge`` (torchrun and other launchers need a module)."""

from ganforge.cli import main

if __name__ == "__main__":
    main()
