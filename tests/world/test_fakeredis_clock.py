"""fakeredis must follow the simulated clock; if an upgrade breaks that, these fail loudly."""

import simpy

from sim.world import fakeredis_clock, internals


def test_keys_expire_on_the_injected_clock_not_the_wall_clock():
    now = [1000.0]
    redis = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: now[0]))
    redis.set("k", "v", px=120_000)
    now[0] = 1120.0
    assert redis.get("k") == b"v"  # exactly at the TTL the key still lives (Redis: expired when now > at)
    now[0] = 1120.001
    assert redis.get("k") is None


def test_ttl_reports_remaining_simulated_time():
    env = simpy.Environment()
    redis = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: env.now))
    redis.set("k", "v", ex=300)
    env.run(until=100)
    assert redis.ttl("k") == 200


def test_lua_scripts_see_the_simulated_clock_too():
    now = [0.0]
    redis = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: now[0]))
    redis.set("k", "v", px=1000)
    get = redis.register_script("return redis.call('GET', KEYS[1])")
    now[0] = 0.5
    assert get(keys=["k"]) == b"v"
    now[0] = 1.5
    assert get(keys=["k"]) is None


def test_self_check_passes_on_the_installed_fakeredis():
    internals.self_check.cache_clear()
    internals.self_check()


def test_each_server_is_isolated():
    a = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: 0.0))
    b = fakeredis_clock.client(fakeredis_clock.clocked_server(lambda: 0.0))
    a.set("k", "1")
    assert b.get("k") is None
