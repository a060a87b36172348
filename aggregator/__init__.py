"""FinSync aggregator: plan, fan out, resolve ids, map, average, export."""
