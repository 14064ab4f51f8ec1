"""`arma-cloud` console script: migrate, tenants create --json, hubs create, keys create, and
serve answering with the keys it printed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "cloud_sync.cloud.cli"]


def _run(*args: str) -> dict[str, str]:
    out = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, check=True, cwd=ROOT
    )
    return json.loads(out.stdout)


def test_cli_creates_tenant_hub_and_serves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    subprocess.run(
        [*CLI, "--database-url", url, "migrate"],
        check=True,
        timeout=120,
        cwd=ROOT,
        capture_output=True,
    )
    tenant = _run("--database-url", url, "tenants", "create", "Çiçekçi Lale", "--json")
    assert tenant["name"] == "Çiçekçi Lale" and tenant["admin_key"].startswith("arma_")
    hub = _run(
        "--database-url",
        url,
        "hubs",
        "create",
        "--tenant",
        tenant["tenant_id"],
        "--name",
        "dükkan",
        "--json",
    )
    viewer = _run(
        "--database-url",
        url,
        "keys",
        "create",
        "--tenant",
        tenant["tenant_id"],
        "--role",
        "viewer",
        "--json",
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*CLI, "--database-url", url, "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=dict(os.environ),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        me = httpx.get(
            f"{base}/v1/tenants/me",
            timeout=10,
            headers={"Authorization": f"Bearer {viewer['token']}"},
        )
        assert me.json()["name"] == "Çiçekçi Lale"
        sync = httpx.get(
            f"{base}/v1/hubs/{hub['hub_id']}/sync",
            timeout=10,
            headers={"Authorization": f"Bearer {hub['hub_token']}"},
        )
        assert sync.status_code == 200 and sync.json()["tenant"]["id"] == tenant["tenant_id"]
    finally:
        server.terminate()
        server.wait(timeout=20)
