"""Progressive second price (PSP) auctions, seed 002 (and the fragment seed 001).

* :mod:`.rules` — the classic Lazar–Semret PSP on one divisible resource: allocation and cost rules,
  seed 002 eqs. (2)–(4), with the original "≥" tie rule or the tie-splitting rule of eq. (20); the
  registered mechanism ``psp`` (``specmarket clear psp FILE.json``).
* :mod:`.replies` — elastic valuations (Definition 1.2) and the truthful ε-best reply.
* :mod:`.dynamics` — asynchronous best-reply dynamics to an ε-Nash equilibrium, the welfare optimum
  by water-filling and the efficiency ratio.
* the data-exchange market of seed 002 §3 lives beside them (:mod:`.market`, :mod:`.local_auction`).

Submodules are imported on demand (this file imports nothing) so that each can be used alone.
"""
