"""How long a test waits for what a busy machine slows down.

The suite must pass on a loaded 2-core machine (a fresh clone's ``make test`` beside other work):
a process starting or stopping, a reply, a background send may take many times longer there than
on an idle one. So every wait is an upper bound that only a hang reaches, never a measurement,
and no test asserts how long something took (``bench/`` measures that).
"""

from __future__ import annotations

SLOW_MACHINE_SECONDS = 120.0
