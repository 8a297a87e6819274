"""Servers that fail the way remote services do, on loopback ports chosen by the kernel.

- :func:`refused_port`: a port nothing listens on (bound to 0, read back, closed);
- :func:`silent_server`: listens, lets the kernel complete connections, never reads or answers;
- :func:`garbage_server`: accepts and answers every connection with bytes of no protocol.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # connections complete in the backlog; nobody ever accepts them
        yield sock.getsockname()[1]


@contextlib.contextmanager
def garbage_server(reply: bytes = b"\x00\xffnot a protocol\r\n\r\n" * 4) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:  # closed: the test is over
                return
            with conn, contextlib.suppress(OSError):
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        thread.join()
