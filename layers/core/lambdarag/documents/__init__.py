"""Documents: intake, removal, source conflicts and input-folder scanning."""
