"""What both engines share: the SimPy world (`sim.world`) and the wall clock (`sim.live`).

A run is assembled here from a scenario — the random world of a replication,
the planned messages and services, the handler built from a variant — and each
message is served by one step (`serve.serve_message`) that either engine's
driver carries out. Nothing here imports SimPy or anything from `sim.world`.
"""
