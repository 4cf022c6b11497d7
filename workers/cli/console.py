"""Rich consoles for the commands: a terminal's own width, and no wrapping when piped.

Rich falls back to 80 columns when output is not a terminal, which folds wide tables into
unreadable cells in logs and `| less`; piped output gets room for any table instead
(``COLUMNS`` still wins when set).
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

#: Width of piped output: tables take only the room their cells need, so this is a ceiling.
PIPED_WIDTH = 1000


def make_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty() or os.environ.get("COLUMNS"):
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPED_WIDTH)
