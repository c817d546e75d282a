"""The Prometheus text rendering of counters, gauges and histograms."""

from bot.runtime.metrics import BUCKETS, Metrics


def test_render_counters_gauges_histograms() -> None:
    m = Metrics()
    m.inc("a_total")
    m.inc("a_total", 2)
    m.set("backlog", 7)
    m.observe("lat_seconds", 0.003)
    m.observe("lat_seconds", 0.2)
    m.observe("lat_seconds", 99)
    text = m.render()
    assert "# TYPE a_total counter\na_total 3\n" in text
    assert "# TYPE backlog gauge\nbacklog 7\n" in text
    assert f'lat_seconds_bucket{{le="{BUCKETS[0]}"}} 1' in text
    assert 'lat_seconds_bucket{le="0.25"} 2' in text
    assert 'lat_seconds_bucket{le="+Inf"} 3' in text
    assert "lat_seconds_count 3" in text
    assert text.endswith("\n")
