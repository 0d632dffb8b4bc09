"""app.json declares every setting the code reads, with a description (Heroku deploy button)."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_read_by_settings_is_declared_in_app_json():
    # given the names settings.py reads from the environment
    source = (ROOT / "bridge" / "settings.py").read_text()
    read = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', source))
    # when app.json is loaded
    declared = json.loads((ROOT / "app.json").read_text())["env"]
    # then each one is declared and described
    assert read - set(declared) == set()
    assert all(entry.get("description") for entry in declared.values())


def test_procfile_runs_web_worker_and_migrations_in_the_release_phase():
    # given the Procfile
    processes = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    # then it has the three process types, each a cartbridge command
    assert set(processes) == {"web", "worker", "release"}
    assert processes["release"] == "cartbridge db upgrade"
    assert "$PORT" in processes["web"]
