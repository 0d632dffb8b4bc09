"""Benchmarks that print figures (never timed assertions inside tests).

- ``python -m bench.ingest``: webhook intake under gunicorn against a bare Flask baseline;
- ``python -m bench.dispatch``: reminders sent per second, and the time to find due steps
  among 10 thousand and 1 million stored carts.

Each runs on SQLite and PostgreSQL (``--db``), in throwaway databases, and takes
``--quick`` for a short smoke run. They exit non-zero only when something broke (an
error, a lost or duplicated record), never because a target was missed.
"""
