"""Dead letters: record headers (pure), the publisher, and the operator's inspect and replay tools."""
