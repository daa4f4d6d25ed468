"""The bridge's loop: authenticate, poll for deployments, run them, report."""
from __future__ import annotations

import logging
import time
from typing import Any

import requests

from bridge import __version__
from bridge.config import BridgeConfig
from bridge.deploy import Deployer

log = logging.getLogger("bridge")
USER_AGENT = f"platform-bridge/{__version__}"


class BridgeError(Exception):
    """Anything that stops the bridge; the message is printed for the operator."""


def _api_error(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


class BridgeClient:
    def __init__(self, config: BridgeConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.http = session or requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT
        self.http.trust_env = False       # no proxies or CA bundles from the environment
        self.verify: str | bool = config.ca_bundle or True   # TLS verification always on
        self.token: str | None = None
        self.poll_interval = 30.0
        self.deployer = Deployer(config)

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.config.base_url}/api/v1/bridge/{path}"
        for attempt in range(2):
            if self.token is None and path != "auth":
                self.authenticate()
            headers = {"Authorization": f"Bearer {self.token}"} if path != "auth" else {}
            try:
                response = self.http.request(method, url, headers=headers, timeout=30,
                                             verify=self.verify, **kwargs)
            except requests.RequestException as exc:
                raise BridgeError(f"Cannot reach {self.config.base_url}: {exc}") from exc
            if response.status_code == 401 and path != "auth" and attempt == 0:
                self.token = None        # expired or rotated: authenticate once more
                continue
            return response
        return response

    def authenticate(self) -> None:
        response = self._call("POST", "auth", json={
            "client_id": self.config.client_id, "client_secret": self.config.client_secret,
            "version": __version__})
        if response.status_code != 200:
            raise BridgeError(f"Authentication failed: {_api_error(response)}")
        self.token = response.json()["token"]

    def poll_once(self) -> list[dict[str, Any]]:
        """Take the pending deployments, run each and report it; returns the reports."""
        response = self._call("GET", "deployments")
        if response.status_code != 200:
            raise BridgeError(f"Cannot list deployments: {_api_error(response)}")
        body = response.json()
        self.poll_interval = float(body.get("poll_interval") or self.poll_interval)
        reports = []
        for deployment in body.get("deployments") or []:
            result = self.deployer.run(deployment)
            log.info("deployment %s to %s: %s", deployment["id"],
                     deployment["target"]["name"], result["status"])
            sent = self._call("POST", f"deployments/{deployment['id']}/report", json=result)
            if sent.status_code not in (200, 404, 409):
                raise BridgeError(f"Cannot report deployment {deployment['id']}: "
                                  f"{_api_error(sent)}")
            reports.append(result)
        return reports

    def run_forever(self) -> None:
        while True:
            try:
                self.poll_once()
            except BridgeError as exc:
                if "Authentication failed" in str(exc):
                    raise
                log.warning("%s; retrying after the poll interval", exc)
            time.sleep(self.poll_interval)
