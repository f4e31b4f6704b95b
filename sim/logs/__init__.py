"""Production logs in sim's log format: read with limits (`read`) and split into sessions (`sessions`).

Below the scenario (a `[workload] trace` replays a log) and below `sim fit` (which fits one)."""
