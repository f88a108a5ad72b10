"""Views: stored data in, text or HTML out (report, status page, reliability log).

A view never reads argparse, the environment or a store: its caller hands it the records.
"""
