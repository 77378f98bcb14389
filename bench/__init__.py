"""greenwire benchmarks: figures measured beside the physical limits of the same run."""
