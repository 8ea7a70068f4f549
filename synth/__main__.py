"""`python -m synth`: write the synthetic city sample or national-scale files (see `python -m synth --help`)."""

import sys

from analysis.cli import main

if __name__ == "__main__":
    sys.exit(main(["synth", *sys.argv[1:]]))
