"""The CCAI Platform (UJET) compatible call API (SPEC §6): ``/apps/api/v1``, ``/manager/api/v1``."""
