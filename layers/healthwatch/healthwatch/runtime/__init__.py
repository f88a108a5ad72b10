"""The composition root: the only code that builds clients and wires adapters to the engine.

`runtime.local.build(...)` and `runtime.aws.build(environ)` return a `Runtime`; the CLI and
the Lambda handlers build one and call it. Nothing below this package knows which backend
it is running on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from healthwatch.engine import Ports, run_tier
from healthwatch.errors import RunError
from healthwatch.runtime.clients import aio_session

if TYPE_CHECKING:
    import requests

    from healthwatch.config import Config
    from healthwatch.models import Result, TierRun
    from healthwatch.secrets import Secrets


@dataclass
class Runtime:
    """One process's wiring: the config, its secrets, the HTTP session and the run's ports."""

    config: Config
    secrets: Secrets
    session: requests.Session
    ports: Ports

    def run(
        self,
        tier: str,
        *,
        run_id: str | None = None,
        time_left: Callable[[], float] | None = None,
        on_result: Callable[[Result], object] | None = None,
    ) -> TierRun:
        """Run one tier; raises `RunError` (with the run) when something was not stored or sent."""
        return run_tier(
            self.config,
            tier,
            self.ports,
            session=self.session,
            open_http=aio_session,
            secrets=self.secrets,
            run_id=run_id,
            time_left=time_left,
            on_result=on_result,
        )

    def run_all(
        self, tiers: Sequence[str], *, on_result: Callable[[Result], object] | None = None
    ) -> list[TierRun | RunError]:
        """Every tier at once, each on its own event loop in its own thread; in `tiers`' order.

        A machine that cannot reach its targets waits out one retry window, not one per
        tier. A tier whose run raised `RunError` is that error, with its run.
        """
        from concurrent.futures import ThreadPoolExecutor

        def one(tier: str) -> TierRun | RunError:
            try:
                return self.run(tier, on_result=on_result)
            except RunError as exc:
                return exc

        with ThreadPoolExecutor(max(1, len(tiers)), thread_name_prefix="hw-tier") as pool:
            return list(pool.map(one, tiers))
