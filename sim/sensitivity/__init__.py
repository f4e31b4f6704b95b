"""`sim compare --sensitivity`: the comparison rerun under other workload assumptions.

axes.py is the registry of assumptions (an axis, its cases, each a pure scenario transform);
design.py turns chosen axes into the cases to run (one at a time, or the full product);
claims.py holds named sets of claims to check in every case; run.py runs the cases.
The results model is sim/metrics/sensitivity.py, the report sim/report/sensitivity.py.
"""
