"""Old import path of the strict CSV reader, which lives in ``tfgridnet.contracts.tables``."""

from tfgridnet.contracts.tables import TableError, read_csv_table

__all__ = ["TableError", "read_csv_table"]
