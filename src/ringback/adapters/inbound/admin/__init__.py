"""The admin door (SPEC §8): restaurants and their tokens, behind ``RINGBACK_ADMIN_TOKEN``."""
