"""Reports rendered from the warehouse: the static scorecard page (and, later, the emails)."""
