"""Data files shipped with the engine (tokenizer tables)."""
