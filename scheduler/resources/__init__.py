"""Resource snapshots, trends and capacity planning (DESIGN §5: the ``snapshot_resources`` job)."""
