"""Test-wide settings (at the root: a second conftest.py beside rtl_tests/conftest.py would
clash under --doctest-modules).

CI runs the property tests derandomized (examples seeded from each test's name), so a
result on record can be reproduced exactly; elsewhere hypothesis draws fresh examples on
every run, which is how new failures are found (run ``benchmarks/hunt_properties.py``).
"""
from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CASCADE_REQUIRE_TOOLS") == "1":
    settings.load_profile("ci")
