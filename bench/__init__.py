"""Benchmarks: `python manage.py bench <name> [options]`. Each prints one JSON line per
measured case, our figure beside a raw baseline measured in the same run."""
