"""`sim tune`: search settings for the best configuration, then confirm it on fresh replications."""
