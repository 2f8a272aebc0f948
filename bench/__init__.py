"""Load generation and the benchmark suite (`make bench`)."""
