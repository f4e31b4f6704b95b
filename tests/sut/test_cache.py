"""Cache-aside in front of the CRM, on a manual clock over fakeredis."""

from sim.sut.cache import OutageCache, OutageInfo
from sim.sut.effects import Sleep
from tests.helpers import Harness


class CountingCrm:
    def __init__(self, latency=9.0):
        self.calls = 0
        self.latency = latency

    def outage_info(self, tax_id):
        self.calls += 1
        yield Sleep(self.latency)
        return OutageInfo(("p1", "p2"))


def test_first_lookup_misses_and_stores_the_crm_answer_with_the_ttl():
    h, crm = Harness(), CountingCrm()
    found = h.run(OutageCache(ttl=300).lookup("123", crm))
    assert (found.source, found.crm_called, crm.calls) == ("miss", True, 1)
    assert found.info.points == ("p1", "p2")
    assert h.redis.pttl("massive:points:123") == 300_000
    assert h.logs == ["Cache MISS for 123, querying CRM"]


def test_lookup_within_the_ttl_is_a_hit_without_calling_the_crm():
    h, crm = Harness(), CountingCrm()
    cache = OutageCache(ttl=300)
    h.run(cache.lookup("123", crm))
    h.clock.now = 9.0 + 299.0  # stored at t = 9 s (after the CRM call)
    found = h.run(cache.lookup("123", crm))
    assert (found.source, found.crm_called, crm.calls) == ("hit", False, 1)
    assert found.info == OutageInfo(("p1", "p2"))
    assert h.logs[-1] == "Cache HIT for 123 - 2 points"


def test_lookup_after_the_ttl_misses_again_on_simulated_time():
    h, crm = Harness(), CountingCrm()
    cache = OutageCache(ttl=300)
    h.run(cache.lookup("123", crm))
    h.clock.now = 9.0 + 300.001
    assert h.run(cache.lookup("123", crm)).source == "miss"
    assert crm.calls == 2


def test_redis_down_falls_back_to_the_crm_and_counts_the_error():
    h, crm = Harness(), CountingCrm()
    h.server.connected = False
    found = h.run(OutageCache(ttl=300).lookup("123", crm))
    assert (found.source, found.cache_errors, crm.calls) == ("fallback", 1, 1)
    assert found.info.points == ("p1", "p2")


def test_cache_off_always_asks_the_crm_and_never_touches_redis():
    h, crm = Harness(), CountingCrm()
    cache = OutageCache(ttl=None)
    for _ in range(3):
        assert h.run(cache.lookup("123", crm)).source == "off"
    assert crm.calls == 3
    assert h.redis.dbsize() == 0
