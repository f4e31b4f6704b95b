"""The SimPy engine: fakeredis on simulated time, the SimPy driver, one run. The only package that imports SimPy;
what it shares with `sim live` is in `sim.run`."""
