"""The Zoho PhoneBridge callnotify door (SPEC §5)."""
