"""`sim fit`, `sim validate` and `sim trace`: a scenario fitted to production logs, checked against them."""
