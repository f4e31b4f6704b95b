"""The system under test: the chatbot's real lock, cache and message handler.

Nothing here imports SimPy or anything else from `sim`. Each operation is a
generator that *yields effects* (a Redis command, a wait, a log line) and
receives their results; a driver decides how to carry them out — on SimPy's
simulated clock (`sim.world.driver`) or for real against a Redis server
(`sim.sut.blocking`). One piece of code is therefore both the production code
and the simulated code.
"""
