"""Document 001 (Sun et al. and Prado's survey of it): one module per experiment, named after it."""
