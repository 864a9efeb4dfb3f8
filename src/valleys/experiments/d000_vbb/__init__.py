"""Document 000 (Davy, report on Venturi, Bandeira & Bruna): one module per experiment, named after it."""
