"""`python -m credo.cli.main`: the same as the `credo` command."""

from credo.cli import main

if __name__ == "__main__":
    main()
