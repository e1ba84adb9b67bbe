"""Values of App Configuration key-value changes, from the store's revisions (docs/values.md).

The event handler leaves a pending capture (pending.py); a timer-triggered pass (capture.py) reads
whole pages of the store's revisions within a request budget and records one row per revision
(records.py); `audit-log appconfig backfill` records what the store still retains (backfill.py).
"""
