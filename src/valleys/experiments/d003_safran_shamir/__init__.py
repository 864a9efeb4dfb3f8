"""Document 003 (Safran & Shamir, the initial basin in overspecified networks): one module per experiment."""
