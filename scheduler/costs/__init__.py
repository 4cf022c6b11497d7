"""Cost rollups, budgets and cost recommendations (DESIGN §5: the ``rollup_costs`` job)."""
