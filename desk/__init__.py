"""certfree's desk: the clerk's pages (a keyboard-wedge scanner, the camera, window
matters assembled from several documents, the register and its export), desks bound to
their place and scenarios, and the stand-alone station that serves them from a synced
folder with no connection to the issuer.

* :mod:`desk.pages` — the Flask blueprint (``/desk/``), used by the central service and
  by the station alike; :mod:`desk.book` — the register's pages.
* :mod:`desk.source` — where the verifier, register and policies come from.
* :mod:`desk.station` — the stand-alone station (``certfree desk serve --data DIR``).
* :mod:`desk.accounts`, :mod:`desk.models` — desks and their clerks.
* :mod:`desk.cli` — ``certfree desk ...``.
* :mod:`desk.verify_cli` — ``certfree verify``; :mod:`desk.demo_cli` — ``certfree demo``.
* ``desk/web/`` — the page's JavaScript sources (bundled into ``desk/static/desk.js``).

The verifier core stays free of Flask: the desk imports it, never the other way round.
"""
