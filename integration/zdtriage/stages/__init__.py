"""The four stages, one module each, in the order ``run --once`` runs them: ingest, submit, poll,
writeback. Each composes the network modules (``zendesk``, ``batches``) with the store and returns a
summary dict for the log; ``common`` holds what they share."""
