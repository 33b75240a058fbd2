"""The metadata store's contract: every test runs on SQLite and on PostgreSQL (the ``store``
fixture). PostgreSQL cases need ``CONVEYOR_TEST_POSTGRES_URL``; they fail, never skip, when
it is set but the server is unreachable."""
