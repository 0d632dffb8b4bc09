"""The dashboard's server-side SVG chart: accessible, scaled to its largest value, escaped."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from admin_ui.charts import HEIGHT, TOP, daily_bars

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)            # also proves the markup is well-formed XML


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


def test_a_chart_without_days_says_there_is_no_data():
    # given no days at all
    # when the chart is drawn
    root = parse(daily_bars([], title="Carts per day"))
    # then it is a named image with no bars, saying there is nothing to show
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Carts per day"
    assert root.get("aria-label") == "Carts per day: no data."
    assert bars(root) == []
    assert "No carts in this period" in ET.tostring(root, encoding="unicode")


def test_one_day_draws_its_two_bars_at_full_height():
    # given one day with 4 abandoned and 2 recovered carts
    root = parse(daily_bars([("23 Nov", 4, 2)], title="Carts per day"))
    # when the bars are read, then the larger reaches the top and the other is half as tall
    first, second = bars(root)
    assert float(first.get("y")) == TOP
    assert float(second.get("height")) == float(first.get("height")) / 2
    assert first.find(f"{SVG}title").text == "23 Nov: 4"
    # and the summary counts both series and names the busiest day
    assert root.get("aria-label") == ("Carts per day, 23 Nov to 23 Nov: 4 abandoned, 2 recovered. "
                                      "Busiest day 23 Nov with 4 abandoned.")


def test_many_days_are_scaled_to_the_largest_value_with_axis_labels():
    # given 90 days, the busiest with 17 abandoned carts, and empty days
    days = [(f"d{i}", i % 18, i % 3) for i in range(90)]
    root = parse(daily_bars(days, title="Carts per day"))
    # then the y axis is labelled 0 and 17 (the max), the x axis with the first and last days
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "0" in texts and "17" in texts and "d0" in texts and "d89" in texts
    assert root.find(f".//{SVG}text[@class='max']").text == "17"
    # and no bar is taller than the plot, nor drawn for a zero
    drawn = bars(root)
    assert len(drawn) == sum(1 for _, a, r in days for v in (a, r) if v)
    assert min(float(r.get("y")) for r in drawn) == TOP
    assert all(float(r.get("y")) + float(r.get("height")) <= HEIGHT for r in drawn)
    # and the legend names both series
    assert "Abandoned" in texts and "Recovered" in texts


def test_text_in_the_chart_is_escaped():
    # given labels and a title with markup in them
    svg = daily_bars([("<b>1</b>", 1, 0), ("a & b", 0, 1)], title='Carts "per" <day>',
                     names=("<script>x</script>", "R"))
    # then none of it becomes markup, and the SVG still parses
    root = parse(svg)
    assert "<script>" not in svg and "<b>" not in svg and "<day>" not in svg
    assert root.find(f"{SVG}title").text == 'Carts "per" <day>'
    assert re.search(r'aria-label="Carts &quot;per&quot; &lt;day&gt;, &lt;b&gt;1&lt;/b&gt; to a &amp; b', svg)
