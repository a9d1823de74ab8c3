"""Checked before a UI starts: every port it needs is free, or the command stops with a clear
message before anything (a daemon, a server) is left behind.

    python -m modelops.ports 3001 3003   # exit 1 naming the first port in use
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    ports = [int(p) for p in (sys.argv[1:] if argv is None else argv)]
    busy = [p for p in ports if port_in_use(p)]
    if busy:
        print(
            f"error: port {busy[0]} on 127.0.0.1 is in use (another `make ui`, `make demo-ui` "
            "or server?): stop it first; nothing was started",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
