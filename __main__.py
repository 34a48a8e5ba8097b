"""``python -m planexec`` and the ``planexec`` console script."""

from planexec.server import main

if __name__ == "__main__":
    main()
