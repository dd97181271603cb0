"""One workspace: its stores, bindings, options and pipeline status."""
