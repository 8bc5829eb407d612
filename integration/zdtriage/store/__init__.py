"""The state database: the only code that reads or writes it.

``db`` opens it and owns the schema; ``tickets`` is the ticket state machine (every transition declared
once, as data); ``writes`` the write intents of write-back; ``records`` holds batch rows, comments, sync
values and the event log.
Database only: nothing here talks to a network.
"""

from .db import StoreError, migrations, open_db, open_reader
from .reader import ReadConnection, Reader
from .records import (
                      abandon_batch,
                      add_batch_cost,
                      add_gap,
                      batches_in,
                      collect_batch,
                      conversations,
                      end_batch,
                      gaps_since,
                      get_sync,
                      insert_batch,
                      known_batch_ids,
                      loads,
                      log_event,
                      note_batch_error,
                      open_batch,
                      save_comments,
                      set_sync,
                      spend_since,
                      sync_like,
)
from .tickets import ALL_STATES, TRANSITIONS, IllegalTransition, Intent, State, Transition, WriteKind

__all__ = [
                      "ALL_STATES",
                      "TRANSITIONS",
                      "IllegalTransition",
                      "Intent",
                      "ReadConnection",
                      "Reader",
                      "State",
                      "StoreError",
                      "Transition",
                      "WriteKind",
                      "abandon_batch",
                      "add_batch_cost",
                      "add_gap",
                      "batches_in",
                      "collect_batch",
                      "conversations",
                      "end_batch",
                      "gaps_since",
                      "get_sync",
                      "insert_batch",
                      "known_batch_ids",
                      "loads",
                      "log_event",
                      "migrations",
                      "note_batch_error",
                      "open_batch",
                      "open_db",
                      "open_reader",
                      "save_comments",
                      "set_sync",
                      "spend_since",
                      "sync_like",
]
