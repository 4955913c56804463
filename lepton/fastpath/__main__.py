"""`python -m lepton.fastpath`: the command line of `lepton.fastpath.command`."""

import sys

from lepton.fastpath.command import main

if __name__ == "__main__":
    sys.exit(main())
