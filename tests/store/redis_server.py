"""A real, throwaway ``redis-server`` for tests: started on a free port, killable and
restartable with the same data directory. A missing redis-server is a failure in CI and
a skip elsewhere."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

__all__ = ["RedisClusterServers", "RedisServer", "require_redis_server"]


def require_redis_server() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI (apt-get install redis-server)")
        pytest.skip("redis-server is not installed")
    return binary


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


_BUS_OFFSET = 10_000
"""A cluster node also listens on its port + 10,000 (the cluster bus)."""


def _free_cluster_port() -> int:
    while True:
        port = _free_port()
        if port + _BUS_OFFSET <= 65_535 and _is_free(port + _BUS_OFFSET):
            return port


class RedisServer:
    """One redis-server process. ``durable`` turns on the append-only file with fsync on
    every write, so a SIGKILL loses nothing that was acknowledged."""

    def __init__(self, directory: Path, *, durable: bool = False, cluster: bool = False) -> None:
        self.binary = require_redis_server()
        self.directory = directory
        self.durable = durable
        self.cluster = cluster
        self.port = _free_cluster_port() if cluster else _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"]
        )
        if self.cluster:
            persistence += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf"]
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.directory),
                "--protected-mode",
                "yes",
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer within 10 s")

    def kill(self) -> None:
        """SIGKILL: the hard way a server dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its connections but answers nothing (a stalled host)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)


class RedisClusterServers:
    """A Redis Cluster of ``size`` primaries (no replicas), each a RedisServer of its own,
    the 16,384 slots split evenly between them. ``url`` names the first node; a cluster
    client finds the others."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.nodes = [RedisServer(directory, cluster=True) for _ in range(size)]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def clients(self) -> list[redis.Redis]:
        return [redis.Redis(host="127.0.0.1", port=node.port) for node in self.nodes]

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        clients = self.clients()
        size, slots = len(clients), 16_384
        for i, client in enumerate(clients):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * slots // size, (i + 1) * slots // size - 1)
        for node in self.nodes[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            infos = [client.cluster("info") for client in clients]
            if all(i["cluster_state"] == "ok" and int(i["cluster_known_nodes"]) == size for i in infos):
                return
            time.sleep(0.05)
        raise RuntimeError("the Redis Cluster did not form within 20 s")

    def flush(self) -> None:
        for client in self.clients():
            client.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
