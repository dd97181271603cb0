"""Graph edits made through the API, written as fragments."""
