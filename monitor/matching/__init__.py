"""Matching: normalise story text once, then test compiled rules against it. No I/O."""
