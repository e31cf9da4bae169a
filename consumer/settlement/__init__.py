"""Settlement: outcomes to per-partition watermarks to stored offsets, and partitions handed over at rebalances."""
