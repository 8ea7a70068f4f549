"""Scale benchmarks of the analysis package against naive baselines: `python -m benchmarks --help`."""
