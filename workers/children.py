"""Child processes that cannot outlive the process that started them."""

from __future__ import annotations

import contextlib
import ctypes
import signal

#: Linux prctl option: the signal a child gets when the thread that forked it exits.
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """``preexec_fn`` for Popen: SIGTERM this child if its parent dies, even by SIGKILL.

    The signal follows the forking *thread*, so spawn from a thread that lives as long as
    the children should.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
