"""State: the versioned state document, its backends (local file, Azure Blob), locking and the journal.

State never plans; it stores and recovers what the engine tells it, durably.
"""
