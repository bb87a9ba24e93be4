"""One module per rule; each registers itself with :func:`llamatpl.lint.registry.register`."""
