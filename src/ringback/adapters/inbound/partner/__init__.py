"""The eat-now compatible partner API (SPEC §4)."""
