"""Usage of a workspace (what it stores, queries, syncs, calls) and the operator's limits."""
