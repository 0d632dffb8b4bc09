"""Unit tests: pure code only, no database, no network."""
