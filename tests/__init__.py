"""cartbridge tests: unit/ (pure), integration/, e2e/, fixtures/<platform>/, support/ (helpers)."""
