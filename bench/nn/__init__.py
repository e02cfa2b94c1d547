"""Building blocks shared by several models: input frontends, attention helpers, losses."""
