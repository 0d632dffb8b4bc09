"""Use cases. Each takes a session (the unit of work) and ``now``; none commits on its own."""
