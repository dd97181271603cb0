"""The indexing pipeline: its steps on JSON payloads and the in-process runner."""
