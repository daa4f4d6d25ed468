"""The bridge run as operators run it: ``python -m bridge --config bridge.yaml`` in a
subprocess, polling the live app; waiting helpers that watch the database."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, base_url: str, creds: dict[str, Any], private_key: bytes,
                 allowed_paths: list[str], commands: list[str]) -> Path:
    key = path.parent / "bridge-key.pem"
    key.write_bytes(private_key)
    key.chmod(0o600)
    path.write_text(yaml.safe_dump({
        "base_url": base_url, "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "private_key": str(key),
        "allowed_paths": allowed_paths, "allowed_reload_commands": commands,
        "probe_timeout": 10}))
    return path


class BridgeProcess:
    def __init__(self, config: Path) -> None:
        self.log = config.with_suffix(".log")
        env = {k: v for k, v in os.environ.items() if k != "BRIDGE_CLIENT_SECRET"}
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge", "--config",
                                      str(config)], cwd=ROOT, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def wait_until(done: Callable[[], Any], what: str, bridge: BridgeProcess | None = None,
               timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = done()
        if result:
            return result
        if bridge is not None and bridge.proc.poll() is not None:
            raise AssertionError(f"the bridge exited while waiting for {what}:\n"
                                 f"{bridge.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}"
                                 + (f"\n{bridge.tail()}" if bridge else ""))
        time.sleep(0.2)
