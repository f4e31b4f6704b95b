"""One flat record per message; summaries, CIs and comparisons as pure functions."""
