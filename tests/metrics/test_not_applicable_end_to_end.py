"""A variant without a cache, end to end: no hit ratio anywhere, not a 0 % one."""

import dataclasses
import json
import math

from sim.experiment import run_replications
from sim.metrics.baseline import changes, load_previous
from sim.metrics.comparison import NOT_APPLICABLE
from sim.report import json_report
from sim.scenario.load import load_scenario
from tests.helpers import MAGNA


def test_a_variant_without_a_cache_has_no_hit_ratio_from_replications_to_baseline(tmp_path):
    scenario = dataclasses.replace(load_scenario(MAGNA), replications=2)  # before: cache off; after: cache on
    c = run_replications(scenario)
    assert all(math.isnan(rep["cache_hit_ratio"]) for rep in c.per_replication["before"])
    before, after = c.estimates["before"]["cache_hit_ratio"], c.estimates["after"]["cache_hit_ratio"]
    assert (before.applies, before.n, after.applies, after.n) == (False, 0, True, 2)
    hit = next(v for v in c.verdicts if v.metric == "cache_hit_ratio")
    assert (hit.verdict, hit.significant) == (NOT_APPLICABLE, False)
    assert c.family_size == len(c.verdicts) - 1  # every verdict but the hit ratio's
    assert "messages" in c.constant_metrics and "cache_hit_ratio" not in c.constant_metrics
    assert c.timeseries is not None and set(c.timeseries.values) == {"before", "after"}
    # Magna alone, scripted, no fault or surge: only first message vs follow-ups has two sides
    assert [(s.grouping, s.inside) for s in c.segments] == [("first", True), ("first", False)]

    text = json_report.render(c)
    data = json.loads(text)  # strict JSON: no NaN
    assert [rep["cache_hit_ratio"] for rep in data["variants"]["before"]["replications"]] == [None, None]
    assert data["variants"]["before"]["summary"]["cache_hit_ratio"] == {"mean": None, "low": None, "high": None}
    assert next(d for d in data["differences"] if d["metric"] == "cache_hit_ratio")["verdict"] == "not applicable"
    assert data["timeseries"]["window_s"] == c.timeseries.window_s

    path = tmp_path / "results.json"
    path.write_text(text)
    diff = changes(load_previous(path), c)  # the null reads back; compared with itself: nothing changed
    by_key = {(ch.variant, ch.metric): ch for ch in diff.changes}
    assert by_key[("before", "cache_hit_ratio")].verdict == NOT_APPLICABLE
    assert not any(ch.significant for ch in diff.changes)
