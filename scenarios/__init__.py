"""certfree scenarios: who may see what, and what a desk keeps.

* :mod:`scenarios.policy`   — one reviewable TOML policy per scenario
  (``scenarios/policies/*.toml``): accepted licences, disclosed claims,
  register fields, clerk fields, freshness and revocation-status rules;
* :mod:`scenarios.matters`  — the public-service window's matters catalogue
  (``scenarios/matters.toml``) and :func:`check_matter`;
* :mod:`scenarios.register` — the desk's local register (SQLAlchemy).  It is
  NOT imported here: the verifier imports this package and must stay free of
  SQLAlchemy.  Import it explicitly: ``from scenarios.register import Register``.

This package imports nothing from the rest of certfree.
"""

from .licences import (
    DERIVED_CLAIMS,
    LICENCE_FIELDS,
    LICENCE_TITLES,
    LICENCE_TYPES,
    licence_title_en,
    licence_title_zh,
)
from .matters import (
    DEPARTMENTS,
    Matter,
    MatterCheck,
    MatterError,
    UnknownMatterError,
    check_matter,
    get_matter,
    load_matters,
    matters_by_department,
)
from .policy import (
    SCENARIOS,
    ClerkField,
    Policy,
    PolicyError,
    UnknownPolicyError,
    get_policy,
    load_policies,
    load_policy,
)

__all__ = [
    # licences
    "LICENCE_FIELDS",
    "LICENCE_TITLES",
    "LICENCE_TYPES",
    "DERIVED_CLAIMS",
    "licence_title_zh",
    "licence_title_en",
    # policies
    "SCENARIOS",
    "ClerkField",
    "Policy",
    "PolicyError",
    "UnknownPolicyError",
    "load_policies",
    "load_policy",
    "get_policy",
    # matters
    "DEPARTMENTS",
    "Matter",
    "MatterCheck",
    "MatterError",
    "UnknownMatterError",
    "load_matters",
    "get_matter",
    "check_matter",
    "matters_by_department",
]
