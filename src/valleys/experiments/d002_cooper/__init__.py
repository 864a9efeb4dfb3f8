"""Document 002 (Cooper, the critical locus of overparameterized networks): one module per experiment."""
