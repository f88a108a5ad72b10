"""The config's `regions` as the engine's `RemoteRegion`s, each behind its own Lambda client."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from healthwatch.engine.regions import RemoteRegion
from healthwatch.runtime.invoke import LambdaInvoker

if TYPE_CHECKING:
    from healthwatch.config import Config

log = logging.getLogger("healthwatch.runtime")


def remote_regions(config: Config, *, local: bool = False) -> list[RemoteRegion]:
    """Every region after the home. `local`: this machine is the home, and a region is
    reachable only through its `endpoint_url` (one without is skipped, with a warning)."""
    out = []
    for region in config.regions[1:]:
        if local and region.endpoint_url is None:
            log.warning(
                "region %s skipped: no endpoint_url to reach it from this machine",
                region.name,
                extra={"region": region.name},
            )
            continue
        invoker = LambdaInvoker(region=region.name, endpoint_url=region.endpoint_url)
        out.append(RemoteRegion(region.name, region.function, invoker))
    return out
