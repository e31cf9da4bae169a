"""`tiktok-relay check`: the pre-flight checks of a deployment, one result line per check."""
