// Binds the traversal source `g` that remote (bytecode) clients address, as on Neptune.
def globals = [:]
globals << [g : traversal().withEmbedded(graph)]
