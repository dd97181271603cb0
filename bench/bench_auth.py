"""What authentication costs per request, measured side by side in one run.

The same cheap read (``GET /documents/status_counts``) through the ASGI app in process,
with no authentication, with an API key (``X-API-Key``) and with a login token
(``Authorization: Bearer``, HS256), plus ``POST /login`` itself for a plaintext and a
bcrypt password. Reports p50 per case and the ratio to the open server.

    .venv/bin/python bench/bench_auth.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import bcrypt
import httpx

from lambdarag.api.app import create_app
from lambdarag.config import load_settings

KEY = "bench-key-" + "k" * 32
SECRET = "bench-secret-" + "s" * 40
READ = "/documents/status_counts"


async def timed(client: httpx.AsyncClient, rounds: int, method: str, path: str,
                **kwargs: Any) -> float:
    """p50 in ms of ``rounds`` requests, each checked for a 2xx."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.request(method, path, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
        if not response.is_success:
            raise SystemExit(f"{method} {path} answered {response.status_code}: {response.text}")
    return statistics.median(times)


async def run(workdir: Path, rounds: int, **overrides: Any) -> dict[str, float]:
    settings = load_settings(working_dir=workdir, input_dir=workdir / "inputs",
                             llm_binding="openai", embedding_binding="openai", **overrides)
    app = create_app(settings)
    results: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await client.get(READ, headers={"X-API-Key": KEY})  # opens the workspace
            if "lightrag_api_key" in overrides:
                results["API key"] = await timed(client, rounds, "GET", READ,
                                                 headers={"X-API-Key": KEY})
            elif "auth_accounts" in overrides:
                for user in ("plain", "hashed"):
                    form = {"username": user, "password": "pw-" + user}
                    results[f"POST /login ({user})"] = await timed(
                        client, max(rounds // 10, 5), "POST", "/login", data=form)
                token = (await client.post("/login", data={
                    "username": "plain", "password": "pw-plain"})).json()["access_token"]
                results["login token"] = await timed(
                    client, rounds, "GET", READ, headers={"Authorization": f"Bearer {token}"})
            else:
                results["open"] = await timed(client, rounds, "GET", READ)
    return results


async def main_async(rounds: int) -> dict[str, float]:
    hashed = bcrypt.hashpw(b"pw-hashed", bcrypt.gensalt(rounds=12)).decode()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        results |= await run(base / "open", rounds)
        results |= await run(base / "key", rounds, lightrag_api_key=KEY)
        results |= await run(base / "accounts", rounds, token_secret=SECRET,
                             auth_accounts=f"plain:pw-plain,hashed:{{bcrypt}}{hashed}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    results = asyncio.run(main_async(args.rounds))
    base = results["open"]
    print(f"{'case':24} {'p50 ms':>8} {'/ open':>8}")
    for name, p50 in results.items():
        print(f"{name:24} {p50:8.2f} {p50 / base:8.2f}")


if __name__ == "__main__":
    main()
