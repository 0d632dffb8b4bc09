"""Integration tests: real databases and real HTTP servers on 127.0.0.1, real client libraries."""
