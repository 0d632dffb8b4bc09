"""The embedded admin page: a Flask blueprint with its templates and static files (issue #5)."""
