"""`sim live` prints `sim compare`'s headline of its variants and an aligned table; never `nan` (issue 23 item 6)."""

from sim.cli import main
from tests.helpers import MAGNA


def test_live_prints_the_headline_of_its_variants_then_the_table_without_nan(redis_url, capsys):
    assert main(["live", MAGNA, "--redis", redis_url, "--time-scale", "0.05", "--quiet"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "after vs before (one run each: differences seen, no interval, no verdict):"
    assert "  better, once   busy apologies −100 % (1.0 → 0.0 per run)" in lines
    assert "  better, once   CRM calls −50 % (2.0 → 1.0 per run)" in lines
    assert "nan" not in out.lower() and "inf" not in out.lower()
    table = lines[lines.index(next(line for line in lines if line.startswith("metric "))) :]
    rows = [line for line in table if line and not line.startswith("n/a:")]
    assert len({len(row) for row in rows}) == 1  # every column right-aligned under its header
    assert next(row for row in rows if row.startswith("cache_hit_ratio ")).split()[1] == "n/a"
    assert "n/a: cache_hit_ratio does not apply to before (no outage check asked a cache: the cache is off)" in out


def test_live_of_one_variant_prints_the_table_alone(redis_url, capsys):
    assert main(["live", MAGNA, "--redis", redis_url, "--time-scale", "0.05", "--quiet", "--variant", "after"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("magna: seed 20251027, replication 0\n") and " vs " not in out
