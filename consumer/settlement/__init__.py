"""Settlement: outcomes to per-partition watermarks to stored offsets."""
