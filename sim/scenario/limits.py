"""Limits and defaults of single keys of a scenario file (run-size limits are in `sim.scenario.work`).

A module of plain numbers: the schema, the loader and the command line's flags read them, and
`sim --help` must not import the loader to know them.
"""

MAX_BURSTS = 5_000_000  # per run: past this, memory and patience run out; split the run instead
MAX_COUNT = 1000  # messages in one burst, installation points of one customer
MAX_REPLICATIONS = 10_000
MAX_LOG_EVERY = 10**9  # a log line every N lock attempts; more than any wait makes is "never"
MAX_WORKERS = 100_000  # workers of one variant; each is a SimPy resource slot (and a thread in sim live)
MAX_SEED = 2**63 - 1  # a signed 64-bit integer, the most TOML promises; numpy refuses negatives
MAX_RATE = 10 * MAX_BURSTS  # bursts per hour of any one hour: more is a typo, and rate × hours stays finite
MAX_MULTIPLIER = 10_000.0  # a surge × this is already far past anything a run can hold
MAX_POPULATION = 1_000_000_000  # distinct customers; numpy draws their ids as 64-bit integers
MAX_ID = 100  # characters of a customer id or tax id
MIN_SHAPE, MAX_SHAPE = 0.01, 10_000.0  # gamma and Weibull shapes: past these numpy's draws degenerate
MAX_SETTINGS_DEPTH = 8  # tables inside [code.settings]: enough for any config, bounded for reports
DEFAULT_REPLICATIONS = 10
DEFAULT_WORKERS = 10
