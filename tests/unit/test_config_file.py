"""The agency config file: every bad value is named with its reason, all at once."""
from __future__ import annotations

import pytest

from bridge.config_file import ConfigError, parse_config

GOOD = {"abandon_after_minutes": 30, "steps": [{"delay_minutes": 30}, {"delay_minutes": 1440}],
        "language": "uk", "timezone": "Europe/Kyiv",
        "templates": [{"step": 2, "language": "uk", "subject": "Ваш кошик: {{ cart.first_item_title }}",
                       "html": "<p>{{ customer.first_name }}</p>", "text": "{{ recovery_url }}"}]}


def _errors(data) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return dict(caught.value.errors)


def test_a_good_config_parses_into_sequence_fields_and_templates():
    # when
    config = parse_config(GOOD)
    # then
    assert [s.delay_minutes for s in config.sequence.steps] == [30, 1440]
    assert config.shop_fields == {"language": "uk", "timezone": "Europe/Kyiv"}
    assert [(t.step, t.language) for t in config.templates] == [(2, "uk")]


def test_every_problem_is_reported_at_once_with_its_field():
    # given a config wrong in four places
    bad = {**GOOD, "abandon_after_minutes": "soon", "timezone": "Mars/Olympus",
           "steps": [{"delay_minutes": -5}, {"delay_minutes": "1h"}], "language": "de"}
    # when / then
    errors = _errors(bad)
    assert set(errors) >= {"abandon_after_minutes", "timezone", "steps[1].delay_minutes", "language"}
    assert "soon" in errors["abandon_after_minutes"]


def test_a_template_syntax_error_names_the_template_field_and_line():
    # given an html template with an unclosed tag on line 2
    broken = {**GOOD, "templates": [{**GOOD["templates"][0], "html": "<p>hi</p>\n{% if cart.total %}oops"}]}
    # when / then
    errors = _errors(broken)
    assert "templates[0].html" in errors


def test_a_template_for_a_step_that_does_not_exist_is_refused():
    # given a two-step sequence and a template for step 5
    extra = {**GOOD, "templates": [{**GOOD["templates"][0], "step": 5}]}
    # when / then
    assert "templates[0].step" in _errors(extra)


def test_missing_steps_and_template_parts_are_named():
    # given no steps, and a template without its html
    data = {"abandon_after_minutes": 60, "templates": [{"step": 1, "language": "en", "subject": "s", "text": "t"}]}
    # when / then
    errors = _errors(data)
    assert "steps" in errors and "templates[0].html" in errors
