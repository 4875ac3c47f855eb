#!/usr/bin/env python3
"""Hearth's soak: hostile and heavy clients at once, for a bounded time, while one normal, logged-in client keeps
using the dashboard's stream and posting. Loopback only, standard library only.

What runs (each bounded in count and time):
- idle connections that never send a request, and slow ones that send a request head one byte every few seconds;
- an open/close storm on /live-users (viewer count churn);
- a resume storm: /events with an old Last-Event-ID, read a little, close;
- a write flood: POST /message with the token, as fast as a few writers can;
- wrong-token guessing (throttled per address).
The normal client logs in, follows /events (resuming by Last-Event-ID if its stream drops), posts a message every
half second, and checks that every message it posted arrives exactly once, and that it was never refused.

Prints one JSON object with the figures; exits 1 if the normal client was refused, lost or saw twice anything, or
if the server's memory or its database went past the stated bounds (--max-rss-mib, --max-db-mb: defaults sized
for the default retention of 100,000 events, about twice what a quiet run reaches).
Usage: soak.py --port P --token T --pid SERVER_PID --data-dir DIR [--seconds 60] [--max-rss-mib 64] [--max-db-mb 160]
"""

import argparse
import asyncio
import json
import os
import random
import socket
import sys
import time

HOST = "127.0.0.1"


def attacker_address(i):
    """Attackers come from 127.0.0.2-9 (the normal client from 127.0.0.1), so caps per address show."""
    return f"127.0.0.{2 + i % 8}"


def flood_address(i):
    """The write flood has the token; it comes from addresses of its own (127.0.0.10-13), since a guesser's
    address is refused even with the right token."""
    return f"127.0.0.{10 + i % 4}"


async def connect(port, source=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if source:
        sock.bind((source, 0))
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (HOST, port))
    return await asyncio.open_connection(sock=sock)


def request(method, path, headers=None, body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def http(port, method, path, headers=None, body=b"", source=None, timeout=10):
    """One request on its own connection; returns (status, headers, body)."""
    reader, writer = await asyncio.wait_for(connect(port, source), timeout)
    try:
        headers = dict(headers or {})
        headers["Connection"] = "close"
        writer.write(request(method, path, headers, body))
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(-1), timeout)
    finally:
        writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines and len(lines[0].split(" ")) > 1 else 0
    hdrs = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        hdrs[name.strip().lower()] = value.strip()
    return status, hdrs, rest


class Sse:
    """A spec-following SSE reader over a raw socket (chunked or close-delimited)."""

    def __init__(self, reader):
        self.reader = reader
        self.buf = b""
        self.chunked = False
        self.pending = b""
        self.last_id = None
        self.data = []
        self.event = None

    async def open(self, writer, path, headers):
        writer.write(request("GET", path, headers))
        await writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        self.chunked = b"chunked" in head.lower()
        return status

    async def _more(self):
        if not self.chunked:
            data = await self.reader.read(65536)
            if not data:
                raise EOFError
            return data
        line = await self.reader.readuntil(b"\r\n")
        size = int(line.strip() or b"0", 16)
        if size == 0:
            raise EOFError
        data = await self.reader.readexactly(size + 2)
        return data[:-2]

    async def events(self):
        while True:
            while b"\n" not in self.pending:
                self.pending += await self._more()
            line, _, self.pending = self.pending.partition(b"\n")
            line = line.rstrip(b"\r").decode()
            if line == "":
                if self.data:
                    yield (self.event or "message", "\n".join(self.data), self.last_id)
                self.data, self.event = [], None
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                self.data.append(value)
            elif field == "event":
                self.event = value
            elif field == "id":
                self.last_id = value


class Figures:
    def __init__(self):
        self.counts = {}

    def add(self, name, n=1):
        self.counts[name] = self.counts.get(name, 0) + n


async def idle_connections(port, n, until, figures):
    held = []
    for i in range(n):
        try:
            held.append(await connect(port, attacker_address(i)))
            figures.add("idle_opened")
        except OSError:
            figures.add("idle_refused_at_connect")
    closed = 0
    while time.monotonic() < until:
        await asyncio.sleep(1)
    for reader, writer in held:
        try:
            if await asyncio.wait_for(reader.read(1), 0.05) == b"":
                closed += 1
        except (asyncio.TimeoutError, OSError):
            pass
        writer.close()
    figures.add("idle_closed_by_server", closed)


async def slow_heads(port, n, until, figures):
    async def one(i):
        try:
            reader, writer = await connect(port, attacker_address(i))
        except OSError:
            figures.add("slow_refused_at_connect")
            return
        head = request("GET", "/api/snapshot")
        try:
            for byte in head:
                if time.monotonic() > until:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(5)
            figures.add("slow_head_completed")
        except (ConnectionError, OSError):
            figures.add("slow_cut_by_server")
        finally:
            writer.close()

    await asyncio.gather(*(one(i) for i in range(n)))


async def open_close_storm(port, until, figures):
    i = 0
    while time.monotonic() < until:
        i += 1
        try:
            reader, writer = await connect(port, attacker_address(i))
            writer.write(request("GET", "/live-users"))
            await writer.drain()
            await asyncio.wait_for(reader.read(256), 2)
            writer.close()
            figures.add("storm_opened")
        except (OSError, asyncio.TimeoutError):
            figures.add("storm_failed")
        await asyncio.sleep(0.02)


async def resume_storm(port, old_id, until, figures):
    i = 0
    while time.monotonic() < until:
        i += 1
        try:
            reader, writer = await connect(port, attacker_address(i))
            writer.write(request("GET", "/events", {"Last-Event-ID": old_id}))
            await writer.drain()
            got = await asyncio.wait_for(reader.read(4096), 2)
            figures.add("resume_reset" if b"event: reset" in got else "resume_other")
            writer.close()
        except (OSError, asyncio.TimeoutError):
            figures.add("resume_failed")
        await asyncio.sleep(0.05)


async def write_flood(port, token, until, figures, writers=4):
    async def one(w):
        k = 0
        while time.monotonic() < until:
            k += 1
            body = json.dumps({"message": f"flood {w}-{k} " + "x" * 200}).encode()
            try:
                status, _, _ = await http(
                    port, "POST", "/message",
                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    body, source=flood_address(w),
                )
                figures.add(f"flood_{status}")
            except (OSError, asyncio.TimeoutError):
                figures.add("flood_failed")

    await asyncio.gather(*(one(w) for w in range(writers)))


async def guessing(port, until, figures):
    i = 0
    while time.monotonic() < until:
        i += 1
        body = json.dumps({"token": f"guess-{random.random()}"}).encode()
        try:
            status, _, _ = await http(
                port, "POST", "/api/session", {"Content-Type": "application/json"}, body,
                source=attacker_address(i),
            )
            figures.add(f"guess_{status}")
        except (OSError, asyncio.TimeoutError):
            figures.add("guess_failed")
        await asyncio.sleep(0.05)


async def normal_client(port, token, until, figures, result):
    """Logs in, follows /events, posts every 0.5 s; every posted message must arrive exactly once."""
    status, headers, _ = await http(
        port, "POST", "/api/session", {"Content-Type": "application/json"},
        json.dumps({"token": token}).encode(),
    )
    if status != 200:
        result["refused"].append(f"login {status}")
        return
    cookie = headers["set-cookie"].split(";")[0]
    posted, seen, duplicates = {}, {}, 0
    last_id = None
    stop = asyncio.Event()

    async def follow():
        nonlocal last_id, duplicates
        while not stop.is_set():
            try:
                reader, writer = await connect(port)
                sse = Sse(reader)
                headers = {"Cookie": cookie}
                if last_id:
                    headers["Last-Event-ID"] = last_id
                status = await sse.open(writer, "/events?topics=message", headers)
                if status != 200:
                    result["refused"].append(f"stream {status}")
                    await asyncio.sleep(1)
                    continue
                figures.add("normal_stream_opened")
                async for event, data, event_id in sse.events():
                    if event_id:
                        last_id = event_id
                    if event == "message":
                        message = json.loads(data)
                        if message["id"] in seen:
                            duplicates += 1
                        seen[message["id"]] = message["message"]
                    if stop.is_set():
                        break
                writer.close()
            except (OSError, EOFError, asyncio.IncompleteReadError, ValueError):
                figures.add("normal_stream_dropped")
                await asyncio.sleep(0.2)

    follower = asyncio.create_task(follow())
    await asyncio.sleep(1)
    k = 0
    while time.monotonic() < until:
        k += 1
        text = f"normal {k}"
        try:
            status, _, body = await http(
                port, "POST", "/message",
                {"Cookie": cookie, "Content-Type": "application/json", "Origin": f"http://{HOST}"},
                json.dumps({"message": text}).encode(),
            )
            if status == 201:
                posted[json.loads(body)["id"]] = text
            else:
                result["refused"].append(f"post {status}")
        except (OSError, asyncio.TimeoutError) as e:
            result["refused"].append(f"post failed: {e}")
        await asyncio.sleep(0.5)
    # Let the last posts arrive.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(i in seen for i in posted):
        await asyncio.sleep(0.2)
    stop.set()
    follower.cancel()
    result["posted"] = len(posted)
    result["lost"] = sorted(i for i in posted if i not in seen)
    result["duplicates"] = duplicates


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def db_bytes(data_dir):
    total = 0
    for name in ("hearth.db", "hearth.db-wal", "hearth.db-shm"):
        try:
            total += os.path.getsize(os.path.join(data_dir, name))
        except OSError:
            pass
    return total


async def sample(pid, data_dir, until, samples):
    while time.monotonic() < until + 5:
        samples.append((rss_kib(pid), db_bytes(data_dir)))
        await asyncio.sleep(1)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--idle", type=int, default=300)
    p.add_argument("--slow", type=int, default=100)
    p.add_argument("--max-rss-mib", type=float, default=64)
    p.add_argument("--max-db-mb", type=float, default=160)
    args = p.parse_args()

    # An old id to resume from: the first event the soak makes.
    status, _, body = await http(
        args.port, "POST", "/message",
        {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"},
        b'{"message":"the soak begins"}',
    )
    assert status == 201, status
    old_id = str(json.loads(body)["id"])

    figures, samples = Figures(), []
    result = {"refused": []}
    rss_before = rss_kib(args.pid)
    started = time.monotonic()
    until = started + args.seconds
    await asyncio.gather(
        idle_connections(args.port, args.idle, until, figures),
        slow_heads(args.port, args.slow, until, figures),
        open_close_storm(args.port, until, figures),
        resume_storm(args.port, old_id, until, figures),
        write_flood(args.port, args.token, until, figures),
        guessing(args.port, until, figures),
        normal_client(args.port, args.token, until, figures, result),
        sample(args.pid, args.data_dir, until, samples),
    )
    report = {
        "seconds": args.seconds,
        "normal_client": {
            "posted": result.get("posted", 0),
            "lost": len(result.get("lost", [])),
            "duplicates": result.get("duplicates", 0),
            "refused": result["refused"],
        },
        "load": figures.counts,
        "server_rss_kib": {"before": rss_before, "max": max(s[0] for s in samples), "after": samples[-1][0]},
        "database_bytes_max": max(s[1] for s in samples),
    }
    over = []
    if report["server_rss_kib"]["max"] > args.max_rss_mib * 1024:
        over.append(f"server RSS reached {report['server_rss_kib']['max'] / 1024:.1f} MiB (bound {args.max_rss_mib} MiB)")
    if report["database_bytes_max"] > args.max_db_mb * 1e6:
        over.append(f"the database reached {report['database_bytes_max'] / 1e6:.1f} MB (bound {args.max_db_mb} MB)")
    report["over_bounds"] = over
    print(json.dumps(report, indent=2, sort_keys=True))
    ok = report["normal_client"]["lost"] == 0 and not result["refused"] and result.get("posted", 0) > 0
    ok = ok and report["normal_client"]["duplicates"] == 0 and not over
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
