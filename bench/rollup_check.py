"""After the bulk generation: the rollups equal their ledgers (zero drift).

The generator writes the ledgers in bulk, around the services, then builds the
rollups with the builder the migrations use (``crm.rollups.rebuild``: the MRR
one from ``mrr_ledger_rebuild``, the lead status, deal close and pipeline ones
at the end of the generation); this recomputes each one as ``verify_rollups``
does and reports the drifted keys (none expected), and the customer spells'
companies that differ from the customer ledger.
"""

from __future__ import annotations

import time

from crm import rollups
from crm.mrr_ledger import spells_drift


def verify() -> str:
    """Return one line per rollup: drifted keys and the seconds the check took."""
    lines = []
    for key, rollup in rollups.REGISTRY.items():
        started = time.perf_counter()
        drifted = sum(1 for _ in rollups.drift(rollup))
        seconds = time.perf_counter() - started
        lines.append(
            f"verify_rollups {key}: {drifted} drifted key(s) ({seconds:.1f} s)"
        )
    started = time.perf_counter()
    drifted = len(spells_drift())
    seconds = time.perf_counter() - started
    lines.append(
        f"verify_rollups customer_spells: {drifted} drifted key(s) ({seconds:.1f} s)"
    )
    return "\n".join(lines)
