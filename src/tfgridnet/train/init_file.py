"""Old import path of ``init.json``'s schema, which lives in ``tfgridnet.contracts.init_record``."""

from tfgridnet.contracts.init_record import INIT_FILE, InitRecord

__all__ = ["INIT_FILE", "InitRecord"]
