"""The command line of liaison: ``python build.py --help``."""

from liaison.cli import main

if __name__ == "__main__":
    main()
