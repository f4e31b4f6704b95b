"""What `sim` shows on the terminal: the console's encoding and signals, progress lines, start-up time."""
