from .engine import Options, Report, formula_safe, ingest_csv, ingest_records
from .header import HeaderError

__all__ = ["Options", "Report", "HeaderError", "ingest_csv", "ingest_records", "formula_safe"]
