"""The process runtime: the Engine and the composition roots that build it."""
