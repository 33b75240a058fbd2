"""The notify tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from ...core import ALERT_DELIVERY_STATES
from .._schema import BigId, fk, metadata, states

# One row per alert channel of a project (by name, made on first use), holding its rate
# limit's window: when it started and how many alerts it let through. A claim updates it
# under the row's lock, so processes sharing a store share one limit.
alert_channels = Table(
    "alert_channels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("window_started_at", BigInteger),
    Column("n_in_window", Integer, nullable=False, default=0),
    UniqueConstraint("project_id", "name"),
)

# One alert on one channel. (channel, event) is unique: an event is alerted on a channel
# once, however many dispatchers read it and however often they restart. ``claims`` is the
# fencing token of the process sending it: another may take a ``sending`` row over once
# its lease (``claimed_at`` + the caller's lease) lapsed, and the first one's late finish
# is then refused. Alerts that come from no event (a test alert) have a NULL event.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("channel_id", Integer, fk("alert_channels.id", cascade=True), nullable=False),
    Column("event_id", BigId, fk("events.id", cascade=True)),
    Column("kind", String(64), nullable=False),
    Column("dedupe_key", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("status_code", Integer),
    Column("claims", Integer, nullable=False, default=1),
    Column("claimed_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    UniqueConstraint("channel_id", "event_id"),
    states("status", ALERT_DELIVERY_STATES),
    Index(None, "event_id"),
    Index(None, "channel_id", "created_at"),
)

# The de-duplication keys of each channel: when an alert with the key was last let
# through (NULL once that delivery failed, so the next one may try). (channel, key) is
# unique, so two processes cannot both let the same key through.
alert_keys = Table(
    "alert_keys",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("channel_id", Integer, fk("alert_channels.id", cascade=True), nullable=False),
    Column("dedupe_key", String(256), nullable=False),
    Column("last_sent_at", BigInteger),
    # The delivery that holds the key (not a foreign key: only compared, never joined).
    Column("holder_id", BigInteger),
    Column("n_suppressed", Integer, nullable=False, default=0),
    UniqueConstraint("channel_id", "dedupe_key"),
)

# Where each alert dispatcher of a project has read the event log up to; it only moves
# forward.
alert_cursors = Table(
    "alert_cursors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("last_event_id", BigInteger, nullable=False, default=0),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

# Alerts received from outside (Alertmanager, Grafana), by idempotency key (source,
# fingerprint, start and status): one event per key, however often it is posted.
signals = Table(
    "signals",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("key", String(64), nullable=False),
    Column("event_id", BigId, fk("events.id", cascade=True)),
    Column("received_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "key"),
    Index(None, "event_id"),
)
