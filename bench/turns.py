"""Dialogue-turn benchmark: ``desk run`` as a real process, spoken to over loopback HTTP.

Copies the shop test project (``tests/fixtures/shop_project``: rules, forms, a rasa-sdk
``actions/`` package, an SQLite tracker store) to a temporary directory, trains its NLU model
once (not counted as start-up), then starts ``desk run --project <copy> --port <free>`` and
measures:

- start-up with a trained model: process start until ``GET /health`` answers 200 (this
  includes loading the project and the model and waiting for the action server child);
- REST turn latency (``POST /webhooks/rest/webhook``, client-side wall time) of rule-driven
  turns: the first turn of 200 new conversations ("hi": the welcome rule), and turns 200-400 of
  one conversation (greet / opening hours / goodbye rules in turn), next to its turns 1-200;
- throughput: 20 concurrent conversations (httpx.AsyncClient, one task each, N turns each);
- memory (psutil RSS): the server process and its action-server child, idle after start-up,
  idle after the latency runs, and the peak sampled during the throughput run.

Every reply is checked against the response the rule must give; mismatches are counted.
Writes ``bench/results/turns.json`` and ``bench/results/turns.md`` and prints the table.

    python bench/turns.py                       # defaults: 200 senders, 400 turns, 20 x 25
    python bench/turns.py --concurrent-turns 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "tests" / "fixtures" / "shop_project"
RESULTS = ROOT / "bench" / "results"
WEBHOOK = "/webhooks/rest/webhook"

WELCOME = "Welcome to Shop! I can track or cancel orders and answer questions about returns."
# Rule-driven turns of a running conversation: message -> the one reply its rule gives.
RULE_TURNS = [
    ("hi", "Hi again! How can I help?"),
    ("what are your opening hours", "Our support team is available Monday to Friday, 9:00 to 17:00."),
    ("bye", "Bye, have a nice day!"),
]
TARGETS = {"p50_ms": 10.0, "p99_ms": 30.0, "start_s": 5.0, "rss_mb": 600.0}


# ---------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(latencies_ms: list[float]) -> dict:
    return {
        "n": len(latencies_ms),
        "p50_ms": round(percentile(latencies_ms, 50), 2),
        "p90_ms": round(percentile(latencies_ms, 90), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2),
        "max_ms": round(max(latencies_ms), 2),
        "mean_ms": round(sum(latencies_ms) / len(latencies_ms), 2),
    }


def rss_mb(process: psutil.Process | None) -> float | None:
    try:
        return round(process.memory_info().rss / 2**20, 1) if process is not None else None
    except psutil.Error:
        return None


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def desk_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dialogue.cli", *args]


def texts(reply: httpx.Response) -> list[str]:
    return [m.get("text") for m in reply.json()] if reply.status_code == 200 else [f"HTTP {reply.status_code}"]


def machine_load() -> dict:
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {"loadavg": [round(x, 2) for x in os.getloadavg()], "uptime": uptime}


# ---------------------------------------------------------------------------- the project and server


def prepare_project(base: Path) -> tuple[Path, int, float]:
    """A copy of the shop project with a trained model and its own action-server port."""
    project = base / "shop"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("models", "*.db", "*.db-*", "__pycache__"))
    action_port = free_port()
    endpoints = project / "endpoints.yml"
    endpoints.write_text(endpoints.read_text().replace("localhost:5055", f"localhost:{action_port}"))
    with (project / "config.yml").open("a", encoding="utf-8") as config:  # one client, far above a person's rate
        config.write("\nguardrails:\n  rate_limit: {per_sender: 0, per_address: 0}\n")
    started = time.perf_counter()
    trained = subprocess.run(
        desk_command("train", "--nlu", "data", "--config", "config.yml", "--out", "models"),
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
    )
    if trained.returncode != 0:
        raise RuntimeError(f"training failed:\n{trained.stdout}{trained.stderr}")
    return project, action_port, time.perf_counter() - started


class Server:
    """``desk run`` in its own process."""

    def __init__(self, project: Path, log_path: Path) -> None:
        self.project = project
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.ps: psutil.Process | None = None
        self.start_s: float | None = None

    def start(self, timeout: float = 120.0) -> float:
        log = self.log_path.open("w")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            desk_command("run", "--project", str(self.project), "--port", str(self.port)),
            env=environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.ps = psutil.Process(self.process.pid)
        deadline = started + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"desk run exited with {self.process.returncode}:\n{self.log_path.read_text()}")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        self.start_s = time.perf_counter() - started
                        return self.start_s
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        raise RuntimeError(f"desk run did not answer /health within {timeout:.0f} s:\n{self.log_path.read_text()}")

    def child(self) -> psutil.Process | None:
        """The action-server child (``python -m rasa_sdk``)."""
        try:
            for child in self.ps.children(recursive=True):
                if "rasa_sdk" in " ".join(child.cmdline()):
                    return child
        except psutil.Error:
            pass
        return None

    def stop(self) -> None:
        if self.process is None:
            return
        child = self.child()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if child is not None and child.is_running():  # stopped by the server normally
            try:
                child.wait(10)
            except psutil.TimeoutExpired:
                child.kill()


class RssSampler(threading.Thread):
    """Samples the RSS of the server and its child until stopped; keeps the peaks."""

    def __init__(self, server: psutil.Process, child: psutil.Process | None, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.server, self.child, self.interval = server, child, interval
        self.peak_server = self.peak_child = self.peak_total = 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            s, c = rss_mb(self.server) or 0.0, rss_mb(self.child) or 0.0
            self.peak_server = max(self.peak_server, s)
            self.peak_child = max(self.peak_child, c)
            self.peak_total = max(self.peak_total, s + c)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


# ---------------------------------------------------------------------------- measurements


def timed_turn(client: httpx.Client, url: str, sender: str, message: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    reply = client.post(url, json={"sender": sender, "message": message})
    return (time.perf_counter() - started) * 1000, texts(reply)


def new_senders(client: httpx.Client, url: str, count: int) -> tuple[list[float], int]:
    latencies, wrong = [], 0
    for i in range(count):
        ms, got = timed_turn(client, url, f"new-{i}", "hi")
        latencies.append(ms)
        wrong += got != [WELCOME]
    return latencies, wrong


def long_conversation(client: httpx.Client, url: str, turns: int) -> tuple[list[float], int]:
    """``turns`` rule-driven turns of one conversation (after its welcome turn)."""
    sender = "long-conversation"
    _, got = timed_turn(client, url, sender, "hi")
    wrong = got != [WELCOME]
    latencies = []
    for i in range(turns):
        message, expected = RULE_TURNS[i % len(RULE_TURNS)]
        ms, got = timed_turn(client, url, sender, message)
        latencies.append(ms)
        wrong += got != [expected]
    return latencies, wrong


async def concurrent(url: str, senders: int, turns: int) -> dict:
    latencies: list[float] = []
    wrong = 0

    async def conversation(client: httpx.AsyncClient, index: int) -> None:
        nonlocal wrong
        sender = f"concurrent-{index}"
        for i in range(turns):
            message, expected = ("hi", WELCOME) if i == 0 else RULE_TURNS[(i + index) % len(RULE_TURNS)]
            started = time.perf_counter()
            reply = await client.post(url, json={"sender": sender, "message": message})
            latencies.append((time.perf_counter() - started) * 1000)
            wrong += texts(reply) != [expected]

    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(client, i) for i in range(senders)))
        elapsed = time.perf_counter() - started
    return {
        "senders": senders,
        "turns_per_sender": turns,
        "turns": len(latencies),
        "seconds": round(elapsed, 2),
        "turns_per_s": round(len(latencies) / elapsed, 1),
        "latency": summary(latencies),
        "wrong_replies": wrong,
    }


def stored_event_count(project: Path, sender: str) -> dict | None:
    """Events stored for ``sender`` in the project's SQLite tracker store (after the run)."""
    import sqlite3

    path = project / "shop.db"
    if not path.is_file():
        return None
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT event_count, session_start_seq FROM conversations WHERE sender_id = ?", (sender,)).fetchone()
    return None if row is None else {"events": row[0], "session_start_seq": row[1]}


# ---------------------------------------------------------------------------- report


def markdown(result: dict) -> str:
    lat = result["latency"]
    rss = result["rss_mb"]
    thr = result["throughput"]
    t = TARGETS

    def ok(value: float, limit: float) -> str:
        return "yes" if value <= limit else "**no**"

    rows = [
        ("start-up with a trained model (s)", f"{result['start_s']:.2f}", f"≤ {t['start_s']:.0f}", ok(result["start_s"], t["start_s"])),
    ]
    half = lat["conversation_turns_1_200"]["n"]
    total = half + lat["conversation_turns_200_400"]["n"]
    for key, label in (
        ("new_senders", f"first turn of {lat['new_senders']['n']} new senders ('hi': welcome rule)"),
        ("conversation_turns_1_200", f"one conversation, turns 1-{half} (rules)"),
        ("conversation_turns_200_400", f"one conversation, turns {half + 1}-{total} (rules)"),
    ):
        s = lat[key]
        rows.append((f"{label}: p50 / p99 ms", f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f}",
                     f"≤ {t['p50_ms']:.0f} / ≤ {t['p99_ms']:.0f}",
                     "yes" if s["p50_ms"] <= t["p50_ms"] and s["p99_ms"] <= t["p99_ms"] else "**no**"))
    rows.append((
        f"throughput, {thr['senders']} concurrent senders × {thr['turns_per_sender']} turns (turns/s)",
        f"{thr['turns_per_s']:.1f}", "—", "—",
    ))
    rows.append(("  latency under that load: p50 / p99 ms", f"{thr['latency']['p50_ms']:.1f} / {thr['latency']['p99_ms']:.1f}", "—", "—"))
    rows.append(("idle RSS after start-up: server / action server (MB)", f"{rss['idle_server']} / {rss['idle_action_server']}",
                 f"≤ {t['rss_mb']:.0f}", ok(rss["idle_server"], t["rss_mb"])))
    rows.append(("idle RSS after the latency runs: server / action server (MB)",
                 f"{rss['warm_idle_server']} / {rss['warm_idle_action_server']}", f"≤ {t['rss_mb']:.0f}",
                 ok(rss["warm_idle_server"], t["rss_mb"])))
    rows.append(("peak RSS under load: server / action server (MB)", f"{rss['peak_server']} / {rss['peak_action_server']}",
                 f"≤ {t['rss_mb']:.0f}", ok(rss["peak_server"], t["rss_mb"])))
    lines = [
        "| measure | value | target | met |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        f"Turns per 50 of the long conversation, p50 ms: {', '.join(f'{v:.1f}' for v in lat['conversation_p50_by_50_turns'])}; "
        f"stored events after it: {result['long_conversation_store']}.",
        f"Wrong replies: {result['wrong_replies']}. Machine: {result['machine']['cpus']} CPUs, "
        f"load average (1/5/15 min) before / after: {result['machine']['load_before']['loadavg']} / "
        f"{result['machine']['load_after']['loadavg']}. First turn after start-up: {result['first_turn_ms']:.1f} ms.",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-senders", type=int, default=200)
    parser.add_argument("--conversation-turns", type=int, default=400)
    parser.add_argument("--concurrent-senders", type=int, default=20)
    parser.add_argument("--concurrent-turns", type=int, default=25)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    load_before = machine_load()
    with tempfile.TemporaryDirectory(prefix="desk-turns-") as tmp:
        base = Path(tmp)
        project, _, train_s = prepare_project(base)
        server = Server(project, base / "server.log")
        try:
            start_s = server.start()
            time.sleep(1.0)  # let start-up allocations settle before the idle reading
            child = server.child()
            idle = {"idle_server": rss_mb(server.ps), "idle_action_server": rss_mb(child)}
            url = server.url + WEBHOOK
            with httpx.Client(timeout=60.0) as client:
                # The very first turn (lazy initialisation, first NLU parse) is reported on its own.
                first_ms, _ = timed_turn(client, url, "warm-up", "hi")
                for message, _ in RULE_TURNS * 3:
                    timed_turn(client, url, "warm-up", message)
                new_lat, wrong_new = new_senders(client, url, args.new_senders)
                long_lat, wrong_long = long_conversation(client, url, args.conversation_turns)
            half = min(200, len(long_lat) // 2)
            time.sleep(1.0)
            idle.update(warm_idle_server=rss_mb(server.ps), warm_idle_action_server=rss_mb(child))
            sampler = RssSampler(server.ps, child)
            sampler.start()
            try:
                throughput = asyncio.run(concurrent(url, args.concurrent_senders, args.concurrent_turns))
            finally:
                sampler.stop()
            load_after = machine_load()
        finally:
            server.stop()
        log_tail = (base / "server.log").read_text()[-2000:]
        store = stored_event_count(project, "long-conversation")

    by_50 = [round(percentile(long_lat[i : i + 50], 50), 2) for i in range(0, len(long_lat), 50)]
    result = {
        "benchmark": "dialogue turns over REST, desk run as a separate process, loopback",
        "project": "tests/fixtures/shop_project (SQLite tracker store, rasa-sdk action server child)",
        "train_s": round(train_s, 2),
        "start_s": round(start_s, 2),
        "first_turn_ms": round(first_ms, 2),
        "latency": {
            "new_senders": summary(new_lat),
            "conversation_turns_1_200": summary(long_lat[:half]),
            "conversation_turns_200_400": summary(long_lat[half:]),
            "conversation_p50_by_50_turns": by_50,
        },
        "long_conversation_store": store,
        "throughput": throughput,
        "rss_mb": {
            **idle,
            "peak_server": round(sampler.peak_server, 1),
            "peak_action_server": round(sampler.peak_child, 1),
            "peak_total": round(sampler.peak_total, 1),
        },
        "wrong_replies": {"new_senders": wrong_new, "long_conversation": wrong_long, "concurrent": throughput["wrong_replies"]},
        "targets": TARGETS,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": load_after,
        },
        "server_log_tail": log_tail,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "turns.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (args.out / "turns.md").write_text("# Dialogue turns\n\n" + table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
