"""Webhook intake throughput: the real app under gunicorn against a bare Flask baseline.

Per database, in one throwaway database: a shop is created through the real service,
then two gunicorn servers with the same worker count are driven in interleaved rounds
(baseline, intake, baseline, ...; the ratio is the median of the per-round ratios, since
the load generator shares the cores with both) by the same
kind of load (signed ``checkouts/create`` deliveries, a unique ``X-Shopify-Webhook-Id``
each, 3-7 KB bodies made from the fixtures):

- intake: ``bridge.app:create_app()`` in production mode (``DATABASE_URL`` set);
- baseline: ``bench.ingest:baseline_app()``, whose one handler verifies the HMAC over the
  raw body (``hmac.compare_digest``) and INSERTs the body with SQLAlchemy Core, committed.
  It uses ``bridge.db.engine.make_engine`` so both run on the same connection settings
  (SQLite WAL + busy timeout, the same PostgreSQL pool): the gap is the app's own work.

The load generator is N threads, each with its own ``http.client`` connection (the sync
gunicorn worker closes it after each answer, so every request pays a connect, for both
targets alike). Afterwards the rows stored must equal the 200 answers: nothing lost.

    python -m bench.ingest [--db sqlite|postgresql|both] [--requests 3000] [--quick]
"""
from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from flask import Flask, request
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, func, select

from bench._common import (SHOP_DOMAIN, SHOPIFY_SECRET, add_db_argument, bench_database, bench_secrets,
                           chosen_databases, database_version, free_port, make_runtime, percentile, print_header,
                           print_table, verdict)
from bridge.db.engine import make_engine, unit_of_work
from bridge.db.tables import Delivery
from bridge.services.shops import create_shop

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "shopify"
BASELINE_TABLE = Table("bench_baseline_inbox", MetaData(),
                       Column("id", Integer, primary_key=True), Column("body", LargeBinary, nullable=False))
TARGET_RATIO, TARGET_P99_MS = 0.8, 100.0
Request = tuple[bytes, dict[str, str]]


def baseline_app() -> Flask:
    """The floor: verify the Shopify HMAC over the raw body, INSERT the body, answer 200."""
    engine = make_engine(os.environ["DATABASE_URL"])
    secret = os.environ["SHOPIFY_API_SECRET"].encode()
    app = Flask(__name__)

    @app.post("/webhooks/shopify")
    def receive():
        raw = request.get_data(cache=False)
        expected = base64.b64encode(hmac.new(secret, raw, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, request.headers.get("X-Shopify-Hmac-Sha256", "").encode()):
            return {"status": "invalid_hmac"}, 401
        with engine.begin() as conn:
            conn.execute(BASELINE_TABLE.insert().values(body=raw))
        return {"status": "stored"}, 200

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


def build_requests(count: int, prefix: str) -> list[Request]:
    """Signed checkouts/create deliveries: a fresh checkout token and webhook id each."""
    templates = [json.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("checkouts_create__*.json"))]
    built = []
    for index in range(count):
        payload = {**templates[index % len(templates)], "token": f"{prefix}-{index}"}
        raw = json.dumps(payload, indent=2, ensure_ascii=False).encode()
        built.append((raw, _signed_headers(raw)))
    return built


def _signed_headers(raw: bytes) -> dict[str, str]:
    digest = hmac.new(SHOPIFY_SECRET.encode(), raw, hashlib.sha256).digest()
    return {"Content-Type": "application/json", "X-Shopify-Topic": "checkouts/create",
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": SHOP_DOMAIN, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()), "X-Shopify-Triggered-At": "2026-11-23T10:00:00.000Z",
            "X-Shopify-API-Version": "2026-07"}


@dataclass
class LoadResult:
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: collections.Counter = field(default_factory=collections.Counter)

    @property
    def ok(self) -> int:
        return self.statuses[200]

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) - self.ok

    def row(self, label: str, target: str) -> list[object]:
        ms = [1000 * x for x in self.latencies]
        return [label, target, len(self.latencies), len(self.latencies) / self.wall,
                percentile(ms, 50), percentile(ms, 99), self.errors]


def drive(port: int, requests: list[Request], concurrency: int) -> LoadResult:
    """Send every request over ``concurrency`` connections; time each one and the whole."""
    result, lock = LoadResult(), threading.Lock()
    start = threading.Barrier(concurrency + 1)
    threads = [threading.Thread(target=_client, args=(port, requests[i::concurrency], start, result, lock))
               for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    result.wall = time.perf_counter() - began
    return result


def _client(port: int, chunk: list[Request], start: threading.Barrier, result: LoadResult,
            lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seen: list[tuple[float, object]] = []
    start.wait()
    for raw, headers in chunk:
        began = time.perf_counter()
        try:
            conn.request("POST", "/webhooks/shopify", body=raw, headers=headers)
            response = conn.getresponse()
            response.read()
            status: object = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            status = type(exc).__name__
        seen.append((time.perf_counter() - began, status))
    conn.close()
    with lock:
        result.latencies.extend(s[0] for s in seen)
        result.statuses.update(s[1] for s in seen)


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int, log_path: Path) -> Iterator[int]:
    """A gunicorn server on a free port, up (``/healthz`` answers) until the block ends."""
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers),
                                    "-b", f"127.0.0.1:{port}", app_spec],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(process, port, log_path)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(process: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer /healthz within 30 s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def prepare(url: str, instance: Path, env: dict[str, str]) -> None:
    """The shop the deliveries name, created through the real service, and the baseline table."""
    runtime = make_runtime(url, instance, env)
    try:
        with unit_of_work(runtime.sessions) as session:
            create_shop(session, runtime.box, platform="shopify", domain=SHOP_DOMAIN, name="Bench Shop",
                        now=runtime.now(), access_token="shpat_bench_token")
        BASELINE_TABLE.metadata.create_all(runtime.engine)
    finally:
        runtime.close()


def stored_rows(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {"intake": conn.scalar(select(func.count()).select_from(Delivery.__table__)),
                    "baseline": conn.scalar(select(func.count()).select_from(BASELINE_TABLE))}
    finally:
        engine.dispose()


def bench_database_kind(kind: str, args: argparse.Namespace) -> tuple[list[list[object]], bool]:
    """Baseline then intake on one fresh database; the table rows and whether nothing was lost."""
    with bench_database(kind, "ingest") as url, tempfile.TemporaryDirectory() as folder:
        secrets_env = bench_secrets()
        instance = Path(folder)
        prepare(url, instance, secrets_env)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID_", "MAIL_"))}
        env.update(secrets_env, DATABASE_URL=url, CARTBRIDGE_INSTANCE=str(instance))
        print(f"-- {kind}: {database_version(url)}", flush=True)
        specs = {"baseline": "bench.ingest:baseline_app()", "intake": "bridge.app:create_app()"}
        with contextlib.ExitStack() as stack:
            ports = {t: stack.enter_context(gunicorn(spec, env, args.workers, instance / f"{t}.log"))
                     for t, spec in specs.items()}
            warm = {t: drive(ports[t], build_requests(args.warmup, f"{kind}-{t}-warm"), args.concurrency)
                    for t in specs}
            # Interleaved rounds (baseline, intake, baseline, ...): the load generator shares
            # this machine's cores with both servers, so a slow patch hits both alike.
            rounds = {t: [] for t in specs}
            per_round = max(1, args.requests // args.rounds)
            for n in range(args.rounds):
                for t in specs:
                    rounds[t].append(drive(ports[t], build_requests(per_round, f"{kind}-{t}-{n}"),
                                           args.concurrency))
        results = {t: (warm[t], _merge(rounds[t])) for t in specs}
        ratios = [len(i.latencies) / i.wall / (len(b.latencies) / b.wall)
                  for b, i in zip(rounds["baseline"], rounds["intake"])]
        return _report(kind, url, results, statistics.median(ratios), ratios)


def _merge(parts: list[LoadResult]) -> LoadResult:
    merged = LoadResult()
    for part in parts:
        merged.wall += part.wall
        merged.latencies += part.latencies
        merged.statuses += part.statuses
    return merged


def _report(kind: str, url: str, results: dict, ratio: float,
            ratios: list[float]) -> tuple[list[list[object]], bool]:
    rows = [timed.row(kind, target) for target, (_warm, timed) in results.items()]
    intake = results["intake"][1]
    print(f"{kind}: per-round intake/baseline ratios {', '.join(f'{r:.2f}' for r in ratios)}; median below")
    p99 = percentile([1000 * x for x in intake.latencies], 99)
    stored, intact = stored_rows(url), True
    print_table(["db", "target", "requests", "req/s", "p50 ms", "p99 ms", "errors"], rows)
    print(f"{kind}: intake/baseline throughput {ratio:.2f} (target >= {TARGET_RATIO}): "
          f"{verdict(ratio >= TARGET_RATIO)}")
    print(f"{kind}: intake p99 {p99:.1f} ms (target < {TARGET_P99_MS:.0f} ms): {verdict(p99 < TARGET_P99_MS)}")
    for target, (warm, timed) in results.items():
        answered = warm.ok + timed.ok
        held = stored[target] == answered and warm.errors + timed.errors == 0
        intact &= held
        others = {k: v for k, v in (warm.statuses + timed.statuses).items() if k != 200}
        print(f"{kind}: {target} stored {stored[target]} rows for {answered} answers 200 "
              f"(other answers: {others or 'none'}): {'ok' if held else 'FAILED'}")
    print(flush=True)
    return rows, intact


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_db_argument(parser)
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per target")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests first, per target")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds per target")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, for both targets")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (300 requests, 50 warm-up)")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.warmup = 300, 50
    print_header("cartbridge webhook intake vs bare Flask baseline (gunicorn)", databases=args.db,
                 requests=f"{args.requests} timed + {args.warmup} warm-up per target",
                 concurrency=args.concurrency, gunicorn_workers=f"{args.workers} (sync)",
                 targets=f"intake >= {TARGET_RATIO}x baseline req/s; intake p99 < {TARGET_P99_MS:.0f} ms")
    summary, intact = [], True
    for kind in chosen_databases(args.db):
        rows, held = bench_database_kind(kind, args)
        summary += rows
        intact &= held
    print("== summary")
    print_table(["db", "target", "requests", "req/s", "p50 ms", "p99 ms", "errors"], summary)
    return 0 if intact else 1


if __name__ == "__main__":
    sys.exit(main())
