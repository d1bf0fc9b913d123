"""Call records: every call and its turns, kept in SQLite for the operator to read back."""

from gateway.records.reader import CallDetail, CallRow, RecordsReader, TurnRow
from gateway.records.schema import RecordsError

__all__ = ["CallDetail", "CallRow", "RecordsError", "RecordsReader", "TurnRow"]
