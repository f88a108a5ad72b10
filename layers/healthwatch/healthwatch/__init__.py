"""healthwatch: tiers of synthetic health checks, their history and their alerts."""

__version__ = "0.1.0"
