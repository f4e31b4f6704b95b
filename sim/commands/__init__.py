"""The commands that load a scenario, run its experiment and write its reports (`sim run`, `compare`, `sweep`)."""
