"""Policy: consent gate, data minimisation, normalisation and SHA-256 hashing, event age window."""
