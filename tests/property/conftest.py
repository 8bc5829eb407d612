"""Hypothesis settings for the property suite: bounded examples, no deadline, no example database.

``deadline=None``: a slow CI machine must not turn a correct example into a failure (the time
properties measure growth themselves). ``database=None``: nothing is written into the work tree.
``HYPOTHESIS_PROFILE=thorough`` runs ten times the examples, for a longer hunt by hand.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("suite", max_examples=150, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1500, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))
