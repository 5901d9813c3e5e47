"""Hypothesis profiles for the core's stateful test.

"ci" (the default) gives the state machine 250 examples of up to 50 steps: about 12,000
steps are run, in a few seconds. "dev" is a quick pass (``HYPOTHESIS_PROFILE=dev``). The
profiles are applied to the state machine only, so other suites keep Hypothesis's defaults.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=250, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "dev", max_examples=25, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def machine_settings() -> settings:
    """The profile chosen by ``HYPOTHESIS_PROFILE`` (default "ci")."""
    return settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
