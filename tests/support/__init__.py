"""Helpers shared by the test suites: child processes in lockstep, PostgreSQL fault tools."""
