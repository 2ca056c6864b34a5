"""Telnyx Call Control v2 webhooks: one call per ``call_session_id`` (SPEC §7)."""
