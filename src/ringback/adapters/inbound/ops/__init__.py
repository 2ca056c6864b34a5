"""Operations (SPEC §8): the call records API under ``/api/ops/v1`` and the ``/ops`` dashboard."""
