"""`python -m moth` and the `moth` command: hand the command line to the C engine."""
import sys


def main():
    from moth._moth import main as _main
    return _main(sys.argv)


if __name__ == "__main__":
    sys.exit(main())
