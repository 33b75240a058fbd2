"""A runner's identity: who holds a run, and whether that process is provably dead.

The identity must survive pid reuse and containers sharing a host name; an owner that
cannot be proven dead (another pid namespace, another boot, an older format) is left to its
lease. Real processes throughout; /proc is read, never faked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.pipelines import _runstate
from conveyor.pipelines._runstate import OWNER_MAX, owner_is_dead, runner_id
from support.waits import wait_for

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/ns/pid").exists(), reason="the identity's proofs need Linux /proc"
)

SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def owner_of(pid: int, *, start: str | None = None, boot: str | None = None) -> str:
    """The identity a runner with ``pid`` would have had on this machine."""
    mine = runner_id().split(":")
    start = start if start is not None else _stat_fields(pid)[19]
    return ":".join([mine[0], str(pid), start, boot or mine[3], mine[4], "0123abcd"])


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_runner_id_names_pid_start_time_boot_and_pid_namespace() -> None:
    host, pid, start, boot, namespace, nonce = runner_id().split(":")
    assert host and int(pid) == os.getpid()
    assert start == _stat_fields(os.getpid())[19]
    assert boot == Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:12]
    assert int(namespace) == os.stat("/proc/self/ns/pid").st_ino
    assert len(nonce) == 8 and runner_id() != runner_id()  # two runners in one process


def test_runner_id_fits_the_stores_column_with_a_long_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_runstate.socket, "gethostname", lambda: "h" * 64)
    owner = runner_id()
    assert len(owner) <= OWNER_MAX
    assert owner.startswith("h") and len(owner.split(":")) == 6
    assert not owner_is_dead(owner)


def test_a_live_runner_is_not_dead() -> None:
    assert not owner_is_dead(runner_id())


def test_an_empty_owner_is_dead() -> None:
    assert owner_is_dead(None) and owner_is_dead("")


def test_an_exited_runner_is_dead(procs: list[subprocess.Popen[bytes]]) -> None:
    proc = subprocess.Popen(SLEEP)
    procs.append(proc)
    owner = owner_of(proc.pid)
    assert not owner_is_dead(owner)
    proc.kill()
    proc.wait(timeout=10)
    assert owner_is_dead(owner)


def test_a_killed_runner_not_yet_reaped_is_dead(procs: list[subprocess.Popen[bytes]]) -> None:
    proc = subprocess.Popen(SLEEP)
    procs.append(proc)
    owner = owner_of(proc.pid)
    proc.kill()  # not waited: a zombie until the fixture reaps it
    wait_for(lambda: _stat_fields(proc.pid)[0] == "Z", what="the zombie")
    assert owner_is_dead(owner)


def test_a_live_pid_with_another_start_time_is_dead() -> None:
    """The pid was reused by another process: the owner is dead."""
    start = int(_stat_fields(os.getpid())[19])
    assert owner_is_dead(owner_of(os.getpid(), start=str(start + 1)))


def test_another_pid_namespace_or_boot_is_not_provably_dead(
    procs: list[subprocess.Popen[bytes]],
) -> None:
    proc = subprocess.Popen(SLEEP)
    procs.append(proc)
    owner = owner_of(proc.pid)
    proc.kill()
    proc.wait(timeout=10)
    host, pid, start, boot, namespace, nonce = owner.split(":")
    other_ns = ":".join([host, pid, start, boot, str(int(namespace) + 1), nonce])
    other_boot = ":".join([host, pid, start, "0" * 12, namespace, nonce])
    # The same host name does not help: a container shares it with its host.
    assert not owner_is_dead(other_ns)
    assert not owner_is_dead(other_boot)
    assert owner_is_dead(owner)


@pytest.mark.parametrize(
    "owner",
    [
        "somehost:999999999:0123abcd",  # the format before start time and boot id
        f"{runner_id().split(':')[0]}:notapid:1:2:3:4",
        "no colons at all",
        ":::::",
    ],
)
def test_unknown_formats_are_not_provably_dead(owner: str) -> None:
    assert not owner_is_dead(owner)


def test_a_dead_runner_whose_process_group_lives_on_is_not_dead_yet(
    procs: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner led its process group (as a shell starts it): while anything of that group
    runs (its forkserver lives until its process-mode steps are gone), it is not dead."""
    monkeypatch.setattr(_runstate, "GROUP_GRACE", 0.2)
    leader = subprocess.Popen(SLEEP, process_group=0)
    procs.append(leader)
    member = subprocess.Popen(SLEEP, process_group=leader.pid)
    procs.append(member)
    owner = owner_of(leader.pid)
    leader.kill()
    leader.wait(timeout=10)
    assert not owner_is_dead(owner)
    member.kill()
    member.wait(timeout=10)
    assert owner_is_dead(owner)
