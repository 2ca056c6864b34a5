"""WhatsApp Cloud API webhooks: the handshake, delivery receipts and opt-out words (SPEC §7)."""
