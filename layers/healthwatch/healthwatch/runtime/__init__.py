"""The composition root: the only code that builds clients and wires adapters to the engine.

`runtime.local.build(...)` and `runtime.aws.build(environ)` return a `Runtime`; the CLI and
the Lambda handlers build one and call it. Nothing below this package knows which backend
it is running on.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from healthwatch.engine import Ports, new_run_id, run_tier
from healthwatch.engine.shards import Shard, plan
from healthwatch.errors import RunError
from healthwatch.models import TierRun, iso, parse_iso, utcnow
from healthwatch.runtime.clients import aio_session

if TYPE_CHECKING:
    import requests

    from healthwatch.config import Config
    from healthwatch.models import Result
    from healthwatch.secrets import Secrets


# A run allocates a few million short-lived objects (futures, headers, results) and
# almost none of them in cycles; at the default threshold (700) the young generation is
# collected thousands of times per 10,000 checks, about a seventh of the run's CPU.
YOUNG_COLLECTION_EVERY = 50_000
_settled = False


def settle_heap() -> None:
    """Once the process's long-lived objects exist (config, clients, adapters): keep the
    collector from walking them again (`gc.freeze`) and collect young objects less often.
    Cycles are still collected; a run's garbage waits at most 50,000 allocations. The
    garbage of building (loading pauses the collector) is collected first, or it would be
    frozen with the rest and never freed. Once per process: what a later build replaces
    (a reloaded config) must stay collectable."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_COLLECTION_EVERY), middle, old)


@dataclass
class Runtime:
    """One process's wiring: the config, its secrets, the HTTP session and the run's ports."""

    config: Config
    secrets: Secrets
    session: requests.Session
    ports: Ports

    def __post_init__(self) -> None:
        settle_heap()

    def run(
        self,
        tier: str,
        *,
        run_id: str | None = None,
        time_left: Callable[[], float] | None = None,
        on_result: Callable[[Result], object] | None = None,
        shard: Shard | None = None,
    ) -> TierRun:
        """Run one tier; raises `RunError` (with the run) when something was not stored or sent.

        `shard`: one shard of a split tier (the Lambda fan-out). Without it, a tier of more
        than `shard_size` checks runs every shard here at once, sharing the run id, each
        storing and deciding for its own checks as its invocation would; the answer is
        their runs as one, for the terminal.
        """
        if shard is None:
            count = plan(self.config, tier)
            if count > 1:
                return self._run_shards(tier, count, run_id, time_left, on_result)
            shard = Shard()
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
            shard=shard,
        )

    def _run_shards(
        self,
        tier: str,
        count: int,
        run_id: str | None,
        time_left: Callable[[], float] | None,
        on_result: Callable[[Result], object] | None,
    ) -> TierRun:
        from concurrent.futures import ThreadPoolExecutor

        run_id = run_id or new_run_id(tier, utcnow())

        def one(index: int) -> TierRun | RunError:
            try:
                return self.run(
                    tier,
                    run_id=run_id,
                    time_left=time_left,
                    on_result=on_result,
                    shard=Shard(index, count),
                )
            except RunError as exc:
                return exc

        with ThreadPoolExecutor(count, thread_name_prefix="hw-shard") as pool:
            outcomes = list(pool.map(one, range(count)))
        runs = [o.run if isinstance(o, RunError) else o for o in outcomes]
        order = {c.id: i for i, c in enumerate(self.config.checks)}
        whole = TierRun(
            run_id,
            tier,
            iso(min(parse_iso(r.started_at) for r in runs)),
            max(r.duration_ms for r in runs),
            sorted((x for r in runs for x in r.results), key=lambda x: order.get(x.check_id, 0)),
            alerts=[a for r in runs for a in r.alerts],
            delivered=[a for r in runs for a in r.delivered],
            undelivered=[a for r in runs for a in r.undelivered],
        )
        problems = [
            f"shard {o.run.shard}: {p}"
            for o in outcomes
            if isinstance(o, RunError)
            for p in o.problems
        ]
        if problems:
            raise RunError(whole, problems)
        return whole

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
