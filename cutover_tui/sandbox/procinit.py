"""PID 1 of a rehearsal host's PID namespace: reaps every orphan (a service whose ``systemctl``
starter has exited is re-parented here, as on a droplet it would be to systemd) and otherwise
sleeps. When it dies, the kernel kills everything in the namespace."""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes pause() when there was no child
    while True:
        try:
            os.wait()
        except ChildProcessError:
            signal.pause()
        except InterruptedError:
            continue


if __name__ == "__main__":
    main()
