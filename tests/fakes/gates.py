"""A request handler that proves parallelism by what the server saw, not by timing."""

from __future__ import annotations

import threading

from tests.fakes.server import Request, Response


class InFlight:
    """A handler that counts the requests in flight and holds each one until `peak` of them
    are in flight together (or all `total` have arrived, or `patience` seconds pass).

    The engine's parallelism is then what the server saw, not how long the test took: a
    pool of `peak` workers makes `most` exactly `peak`. Fewer workers leave it lower. More
    would push it higher: a wave that reached `peak` is held a further `grace` (unless no
    more requests can come) so that a request too many is in flight with it, not after it.
    Neither wait is asserted on: they only decide how long a wrong engine keeps a test busy.
    """

    def __init__(self, peak: int, total: int, patience: float = 5.0, grace: float = 0.2) -> None:
        self.peak, self.total, self.patience, self.grace = peak, total, patience, grace
        self.now = 0  # in flight at this moment
        self.most = 0  # the most ever in flight together
        self.arrived = 0
        self.opened = 0  # requests 1..opened have seen `peak` in flight (or the last arrive)
        self.cond = threading.Condition()

    def __call__(self, req: Request) -> Response:
        with self.cond:
            self.now += 1
            self.arrived += 1
            self.most = max(self.most, self.now)
            mine = self.arrived
            if self.now >= self.peak or self.arrived >= self.total:
                self.opened = self.arrived
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.opened >= mine, timeout=self.patience)
            if self.arrived < self.total:
                self.cond.wait_for(lambda: self.now > self.peak, timeout=self.grace)
            self.now -= 1
        return Response(200, "ok")
