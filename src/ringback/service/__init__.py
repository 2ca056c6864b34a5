"""Use cases over the ports: the relay decision, the outbox dispatch."""
