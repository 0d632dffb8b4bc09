"""Shared test helpers (fixture loading, webhook signing); no test cases live here."""
