"""The Java wire driver (java/OracleDriver.java): compiled with javac against Kafka's jars into the cache on first
use, run as one long-lived JVM that the runner talks to through JSON lines."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from harness import kafka_broker  # noqa: E402

SOURCE = HERE / "java" / "OracleDriver.java"


class DriverError(RuntimeError):
    pass


def compiled_classes() -> Path:
    """javac once per source version, into $KMF_CACHE/oracle-driver/<hash>."""
    digest = hashlib.sha256(SOURCE.read_bytes() + kafka_broker.kafka_version().encode()).hexdigest()[:16]
    out = kafka_broker.CACHE / "oracle-driver" / digest
    if not (out / ".complete").exists():
        out.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["javac", "-nowarn", "-d", str(out), "-cp", f"{kafka_broker.kafka_libs()}/*", str(SOURCE)],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise DriverError(f"javac failed:\n{result.stdout}\n{result.stderr}")
        (out / ".complete").touch()
    return out


class Driver:
    def __init__(self, log_path: Path):
        classes = compiled_classes()
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            ["java", "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
             "-cp", f"{classes}:{kafka_broker.kafka_libs()}/*", "OracleDriver"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True,
        )  # fmt: skip

    def call(self, **command) -> dict:
        if self.popen.poll() is not None:
            raise DriverError(f"driver exited with {self.popen.returncode}")
        self.popen.stdin.write((json.dumps(command) + "\n").encode())
        self.popen.stdin.flush()
        line = self.popen.stdout.readline()
        if not line:
            raise DriverError(f"driver exited with {self.popen.wait()}")
        return json.loads(line)

    def connect(self, conn: str, port: int, keystore: Path | None = None, ca: Path | None = None,
                source: str | None = None) -> dict:  # fmt: skip
        command = {"op": "connect", "conn": conn, "port": port}
        if keystore is not None:
            command.update(keystore=str(keystore), ca=str(ca))
        if source:
            command["source"] = source
        return self.call(**command)

    def send(self, conn: str, api: int, version: int, request: dict, **extra) -> dict:
        return self.call(op="send", conn=conn, api=api, version=version, request=request, **extra)

    def close(self, conn: str) -> None:
        self.call(op="close", conn=conn)

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                self.popen.stdin.close()
                self.popen.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.popen.pid, 9)
                self.popen.wait(5)
        self._log.close()
