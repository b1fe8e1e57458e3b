"""Test-wide setup: every transport refuses non-loopback addresses during the tests."""

import os

os.environ["CUTOVER_LOOPBACK_ONLY"] = "1"
