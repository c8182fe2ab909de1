"""SIGUSR2 with prefork workers, through a real `gateway serve --workers 2` under load: the
new master inherits the very listening sockets of every worker slot (no accept queue is
closed), the old master drains its workers and exits once the new workers serve, and no
request fails across it. A new gateway that cannot start leaves the old one serving."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx

from gateway.server.signals import read_pid
from tests.ops.serving import Gateway, Load
from tests.ops.test_signals import site
from tests.support import wait_for


def stop_pid(pid: int, pid_file) -> None:
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_file.exists(), timeout=15)


def test_sigusr2_with_two_workers_upgrades_with_zero_failed_requests(tmp_path):
    config = site(tmp_path, more="workers = 2")
    pid_file = tmp_path / "run" / "gateway.pid"
    gateway = Gateway(config)
    new_pid = None
    loads: list[Load] = []
    try:
        loads = [Load(gateway.url), Load(gateway.url)]  # 2 keep-alive + 2 new-connection
        wait_for(lambda: all(load.bodies["one"] > 20 for load in loads))
        config.write_text(config.read_text().replace('"one"', '"two"'))  # the "new code"
        gateway.proc.send_signal(signal.SIGUSR2)
        try:
            gateway.proc.wait(20)  # the old master drained its workers and exited
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the old master never exited:\n{gateway.log}") from None
        assert gateway.proc.returncode == 0
        new_pid = wait_for(lambda: (p := read_pid(pid_file)) != gateway.proc.pid and p)
        wait_for(lambda: all(load.bodies["two"] > 20 for load in loads), timeout=15)
        for load in loads:
            load.stop()
        failures = [f for load in loads for f in load.failures]
        assert failures == [], gateway.log
        assert "upgrade: started pid" in gateway.log
        assert "upgrade: 2 workers serving; asking pid" in gateway.log
        # Every new connection now lands on the new workers: nothing still points at a
        # socket that the old gateway closed.
        assert {httpx.get(gateway.url + "/a").text for _ in range(20)} == {"two"}
    finally:
        for load in loads:
            load.stop()
        gateway.stop()
        if new_pid is not None:
            stop_pid(new_pid, pid_file)


def test_sigusr2_with_workers_and_a_broken_config_keeps_the_old_master(tmp_path):
    config = site(tmp_path, more="workers = 2")
    gateway = Gateway(config)
    try:
        config.write_text(config.read_text() + "\n[[route]]\npath = 7\n")
        gateway.proc.send_signal(signal.SIGUSR2)
        wait_for(lambda: "upgrade: the new gateway" in gateway.log, timeout=15)
        assert "route[1].path" in gateway.log  # the new one said why
        assert "starting another" not in gateway.log  # its exit is not a worker's
        assert {httpx.get(gateway.url + "/a").text for _ in range(10)} == {"one"}
        assert read_pid(tmp_path / "run" / "gateway.pid") == gateway.proc.pid
        gateway.proc.send_signal(signal.SIGUSR2)  # and a later upgrade can still start
        wait_for(lambda: gateway.log.count("upgrade: the new gateway") == 2, timeout=15)
    finally:
        code = gateway.stop()
        assert code == 0, gateway.log


def test_sigusr2_from_workers_to_one_process_serves_slot_zero(tmp_path):
    config = site(tmp_path, more="workers = 2")
    pid_file = tmp_path / "run" / "gateway.pid"
    gateway = Gateway(config)
    new_pid = None
    try:
        text = config.read_text().replace('"one"', '"two"').replace("workers = 2", "workers = 1")
        config.write_text(text)
        gateway.proc.send_signal(signal.SIGUSR2)
        gateway.proc.wait(20)
        new_pid = wait_for(lambda: (p := read_pid(pid_file)) != gateway.proc.pid and p)
        assert {httpx.get(gateway.url + "/a").text for _ in range(20)} == {"two"}
        assert "upgrade: serving; asking pid" in gateway.log
    finally:
        gateway.stop()
        if new_pid is not None:
            stop_pid(new_pid, pid_file)


def test_slots_survive_a_hand_over_grouped_as_they_were():
    from gateway.activation import Inherited
    from gateway.server.slots import Slots

    slots = Slots.bind(["127.0.0.1:0"], ["127.0.0.1:0"], 3)
    try:
        assert len(slots.groups) == 3 and len(slots.addresses) == 2
        socks, names = slots.handover()
        assert names[:2] == ["gateway-slot-0-http", "gateway-slot-0-https"]
        handed = [
            Inherited(sock, name) for sock, name in reversed(list(zip(socks, names, strict=True)))
        ]
        again = Slots.from_handed(handed)
        assert [[s.fileno() for s in g] for g in again.groups] == [
            [s.fileno() for s in g] for g in slots.groups
        ]
        assert (again.plain, again.secure, again.shared) == (slots.plain, slots.secure, False)
        assert again.others(1) == [*slots.groups[0], *slots.groups[2]]
        shared = Slots.from_handed([Inherited(socks[0], "http")])  # a service manager's
        assert shared.shared and shared.group(5) == [socks[0]] and shared.secure == []
    finally:
        slots.close()
