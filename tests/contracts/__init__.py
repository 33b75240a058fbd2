"""The suites every backend must pass: each test runs once per backend through a
parametrized fixture (the metadata store's ``store``: SQLite and PostgreSQL)."""
