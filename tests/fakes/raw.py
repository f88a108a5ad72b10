"""Raw-socket servers on 127.0.0.1 for the behaviours an HTTP server library will not produce.

Each connection is handed to a `Behaviour` on its own thread, with an event that is set
when the server stops, so a behaviour that "never answers" still ends with the test.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

Behaviour = Callable[[socket.socket, threading.Event], None]


class RawServer:
    """Listen on 127.0.0.1:<free port>; run `behaviour(conn, stopping)` for each connection."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self._stopping = threading.Event()
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        assert self._sock is not None
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RawServer:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            worker.start()
            self._threads.append(worker)

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.behaviour(conn, self._stopping)
        except OSError:
            pass  # the client gave up first: that is what most of these tests provoke
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._sock is not None:
            self._sock.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_request_head(conn: socket.socket) -> bytes:
    """Read up to the blank line that ends the request head (the body, if any, is ignored)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def never_answer(conn: socket.socket, stopping: threading.Event) -> None:
    """Accept, read the request, then say nothing until the server stops: a read timeout."""
    read_request_head(conn)
    stopping.wait()


def trickle(chunk: bytes = b".", every: float = 0.1, count: int = 100) -> Behaviour:
    """Send complete headers at once, then the body one `chunk` every `every` seconds.

    Every single read succeeds quickly, so only a whole-request deadline catches it.
    """

    def behaviour(conn: socket.socket, stopping: threading.Event) -> None:
        read_request_head(conn)
        length = len(chunk) * count
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {length}\r\n\r\n".encode()
        )
        for _ in range(count):
            if stopping.wait(every):
                return
            conn.sendall(chunk)

    return behaviour


def close_immediately(conn: socket.socket, stopping: threading.Event) -> None:
    """Read the request and hang up without a word."""
    read_request_head(conn)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released): connection refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answer_when_released(release: threading.Event, within: float = 30.0) -> Behaviour:
    """Read the request, then hold it until `release` is set, or `within` seconds pass.

    Then answer `200 OK` (unless the server is stopping). A client that gives up on time
    never sees that answer; one that waits sees a 200 and so fails its test by the result,
    not by a stopwatch. `within` only bounds the wait so that such a failure cannot hang.
    """

    def behaviour(conn: socket.socket, stopping: threading.Event) -> None:
        read_request_head(conn)
        give_up = time.monotonic() + within
        while not (release.is_set() or stopping.is_set()) and time.monotonic() < give_up:
            release.wait(0.05)
        if stopping.is_set():
            return
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n"
            b"Connection: close\r\n\r\nreleased"
        )

    return behaviour
