"""`checks.yaml`: the schema (`schema`) and the loader that reads and explains it (`loader`).

`compiled` is the form `make build` ships: validated ahead of time, read back without
pydantic or YAML. The loader is handed the `Plugins` (probe types, chat providers) to
validate their own keys with; `runtime.config_source` is where the real ones are passed in.
"""

from healthwatch.config.loader import compile_config, load_config, parse_config
from healthwatch.config.schema import (
    Check,
    Config,
    Defaults,
    MaintenanceWindow,
    Notifications,
    Plugins,
    Region,
    Slo,
    TierConfig,
)

__all__ = [
    "Check",
    "Config",
    "Defaults",
    "MaintenanceWindow",
    "Notifications",
    "Plugins",
    "Region",
    "Slo",
    "TierConfig",
    "compile_config",
    "load_config",
    "parse_config",
]
