"""Running one deployment: check, open the key, back up, write, reload, probe — and on a
failed reload or probe, restore the backup and reload again. Returns the report."""
from __future__ import annotations

import contextlib
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwcrypto import jwe, jwk
from jwcrypto.common import JWException

from bridge import files, probe
from bridge.config import BridgeConfig

MAX_OUTPUT = 8000
KIND_FILES = {"nginx": ("fullchain", "key"), "haproxy": ("pem",),
              "files": ("certificate", "chain", "key")}
KEY_FILES = {"key", "pem"}


class StepFailed(Exception):
    """A step failed; its output is already recorded."""


@dataclass
class Report:
    steps: list[dict[str, Any]] = field(default_factory=list)
    served_serial: str | None = None
    error: str | None = None

    def step(self, name: str, ok: bool, output: str = "") -> None:
        self.steps.append({"name": name, "ok": ok, "output": output[-MAX_OUTPUT:]})
        if not ok and self.error is None:
            self.error = f"{name}: {output}"[-MAX_OUTPUT:]

    def body(self) -> dict[str, Any]:
        ok = all(s["ok"] for s in self.steps)
        body: dict[str, Any] = {"status": "succeeded" if ok and self.error is None
                                else "failed", "steps": self.steps}
        if self.served_serial is not None:
            body["served_serial"] = self.served_serial
        if body["status"] == "failed":
            body["error"] = self.error or "failed"
        return body


def _fingerprint(cert: x509.Certificate) -> str:
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _open_key(token: str | None, config: BridgeConfig) -> bytes:
    if not token:
        raise ValueError("The deployment carries no key.")
    key = jwk.JWK.from_pem(config.private_key.read_bytes())
    message = jwe.JWE()
    message.allowed_algs = ["ECDH-ES+A256KW", "A256GCM"]
    try:
        message.deserialize(token, key=key)
    except (JWException, ValueError) as exc:
        raise ValueError("The key does not decrypt with this bridge's private key.") from exc
    return bytes(message.payload)


def _contents(kind: str, cert_pem: str, chain_pem: str, key_pem: bytes) -> dict[str, bytes]:
    cert, chain = cert_pem.encode(), chain_pem.encode()
    if kind == "nginx":
        return {"fullchain": cert + chain, "key": key_pem}
    if kind == "haproxy":
        return {"pem": cert + chain + key_pem}
    return {"certificate": cert, "chain": chain, "key": key_pem}


def _run(command: list[str], timeout: float) -> tuple[bool, str]:
    try:
        # Only a command listed in allowed_reload_commands gets here; no shell.
        done = subprocess.run(command, capture_output=True, text=True,  # noqa: S603
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else \
            (exc.stdout or "")
        return False, f"{shlex.join(command)} timed out after {timeout:g}s. {out}".strip()
    except OSError as exc:
        return False, f"{shlex.join(command)}: {exc.strerror or exc}"
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        return False, f"{shlex.join(command)} exited {done.returncode}: {output}".strip()
    return True, output


class Deployer:
    def __init__(self, config: BridgeConfig) -> None:
        self.config = config

    def run(self, deployment: dict[str, Any]) -> dict[str, Any]:
        report = Report()
        with contextlib.suppress(StepFailed):   # recorded in the report
            self._deploy(deployment, report)
        return report.body()

    # ---- steps ---------------------------------------------------------------------------
    def _check(self, target: dict[str, Any], report: Report) -> tuple[dict[str, Path],
                                                                     list[str]]:
        kind = target.get("kind")
        if kind not in KIND_FILES:
            report.step("check", False, f"Unknown target kind {kind!r}.")
            raise StepFailed
        try:
            paths = {name: files.check_allowed(Path(target["paths"][name]),
                                               self.config.allowed_paths)
                     for name in KIND_FILES[kind]}
        except KeyError as exc:
            report.step("check", False, f"The target has no {exc.args[0]} path.")
            raise StepFailed from exc
        except files.FileRefused as exc:
            report.step("check", False, str(exc))
            raise StepFailed from exc
        try:
            command = shlex.split(target.get("reload_command") or "")
        except ValueError:
            command = []
        if not command or tuple(command) not in self.config.allowed_reload_commands:
            report.step("check", False, f"The reload command {target.get('reload_command')!r}"
                        " is not in this bridge's allowed_reload_commands.")
            raise StepFailed
        report.step("check", True, ", ".join(str(p) for p in paths.values()))
        return paths, command

    def _deploy(self, deployment: dict[str, Any], report: Report) -> None:
        target, certificate = deployment["target"], deployment["certificate"]
        paths, command = self._check(target, report)
        try:
            key_pem = _open_key(deployment.get("private_key_jwe"), self.config)
            cert = x509.load_pem_x509_certificate(certificate["certificate_pem"].encode())
            key = load_pem_private_key(key_pem, password=None)
            if cert.public_key().public_numbers() != key.public_key().public_numbers():
                raise ValueError("The key does not belong to the certificate.")
        except (ValueError, TypeError) as exc:
            report.step("key", False, str(exc))
            raise StepFailed from exc
        report.step("key", True, "The key opened with this bridge's key and matches the "
                    f"certificate (serial {format(cert.serial_number, 'x')}).")
        contents = _contents(target["kind"], certificate["certificate_pem"],
                             certificate.get("chain_pem") or "", key_pem)
        backups = self._write(target, paths, contents, report)
        timeout = float(target.get("reload_timeout_seconds") or 30)
        ok, output = _run(command, timeout)
        report.step("reload", ok, output)
        if ok:
            probe_info = target["probe"]
            served, finding = probe.wait_for(probe_info["host"], int(probe_info["port"]),
                                             probe_info.get("sni"), _fingerprint(cert),
                                             _trust(certificate), self.config.probe_timeout)
            ok = served is not None and served.fingerprint == _fingerprint(cert)
            report.served_serial = served.serial if served else None
            report.step("probe", ok, finding)
        if not ok:
            self._roll_back(backups, command, timeout, target, report)

    def _write(self, target: dict[str, Any], paths: dict[str, Path],
               contents: dict[str, bytes], report: Report) -> list[files.Backup]:
        backups: list[files.Backup] = []
        try:
            for path in paths.values():
                backups.append(files.back_up(path, self.config.backup_suffix))
            for name, path in paths.items():
                mode = int(target["key_mode" if name in KEY_FILES else "file_mode"], 8)
                files.write_atomic(path, contents[name], mode, target.get("owner"),
                                   target.get("group"))
        except (OSError, files.FileRefused) as exc:
            for backup in backups:
                files.restore(backup)
            report.step("write", False, f"{exc}; the previous files were put back.")
            raise StepFailed from exc
        kept = [str(b.copy) for b in backups if b.copy is not None]
        report.step("write", True, f"Wrote {', '.join(str(p) for p in paths.values())}"
                    + (f"; previous files kept as {', '.join(kept)}" if kept else ""))
        return backups

    def _roll_back(self, backups: list[files.Backup], command: list[str], timeout: float,
                   target: dict[str, Any], report: Report) -> None:
        try:
            for backup in backups:
                files.restore(backup)
        except OSError as exc:
            report.step("restore", False, str(exc))
            return
        report.step("restore", True, "The previous files are back.")
        ok, output = _run(command, timeout)
        report.step("reload_restored", ok, output)
        try:
            probe_info = target["probe"]
            # Verified against what was just put back: that is what should be served now.
            restored = "".join(b.path.read_text(errors="replace") for b in backups
                               if b.path.exists())
            served = probe.served_certificate(probe_info["host"], int(probe_info["port"]),
                                              probe_info.get("sni"),
                                              probe.certificates_only(restored))
            report.served_serial = served.serial
        except (OSError, ValueError):  # nothing served, or nothing restored to trust
            pass


def _trust(certificate: dict[str, Any]) -> str:
    """What the probe verifies the served certificate against: the deployed chain (its
    issuing CAs), else the certificate itself."""
    return (certificate.get("chain_pem") or "") + (certificate.get("certificate_pem") or "")
