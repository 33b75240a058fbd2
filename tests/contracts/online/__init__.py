"""The online store's contract: every test runs on SQLite and on Redis (the ``online``
fixture). Redis cases need ``CONVEYOR_TEST_REDIS_URL``; they fail, never skip, when it is
set but the server is unreachable."""
