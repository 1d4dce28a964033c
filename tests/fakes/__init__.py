"""Fakes of external services, in one place. Each speaks the real protocol to the real client library."""
