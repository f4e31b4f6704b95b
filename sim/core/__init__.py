"""The bottom layer: errors and exit codes, distributions, durations, files read with limits, safe error text."""
