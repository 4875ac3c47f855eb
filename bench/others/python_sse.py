"""A Python asyncio SSE fan-out server in aiohttp, the shape of its tutorials, for scripts/compare.sh.

    GET  /eventstream  keeps a text/event-stream response open (aiohttp StreamResponse)
    POST /message      writes the request body as one event's `data:` lines to every open stream

Each stream has a bounded asyncio.Queue its handler drains, the usual pattern: a publish never waits for a slow
client, and a client 1,024 events behind (Hearth's queue size) is dropped rather than buffered without end. On
uvloop, as aiohttp is deployed for speed (its Gunicorn worker `GunicornUVLoopWebWorker`); one process, because
the streams live in its memory. See README.md beside this file.

Usage: python python_sse.py [port]   (default 3994; listens on 127.0.0.1 only; aiohttp and uvloop from the venv
that scripts/compare.sh makes)
"""

import asyncio
import json
import sys

import uvloop
from aiohttp import web

HOST = "127.0.0.1"
QUEUE_SIZE = 1024
KEEPALIVE_S = 15
BODY_LIMIT = 16 * 1024
CLOSE = None  # put in a queue to end that stream

clients: set[asyncio.Queue] = set()


def broadcast(frame: bytes) -> int:
    for queue in list(clients):
        try:
            queue.put_nowait(frame)
        except asyncio.QueueFull:
            clients.discard(queue)
            queue.get_nowait()  # room for the end marker
            queue.put_nowait(CLOSE)
    return len(clients)


async def eventstream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    await response.write(b": connected\n\n")
    queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
    clients.add(queue)
    try:
        while (frame := await queue.get()) is not CLOSE:
            await response.write(frame)
    except ConnectionResetError:  # the client left; aiohttp notices on the next write
        pass
    finally:
        clients.discard(queue)
    return response


async def message(request: web.Request) -> web.Response:
    body = await request.text()
    # One `data:` line per line of the body, as the SSE format requires.
    frame = "".join(f"data: {line}\n" for line in body.splitlines() or [""]) + "\n"
    delivered = broadcast(frame.encode())
    return web.json_response({"delivered": delivered})


async def keepalive(app: web.Application):
    async def tick():
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            broadcast(b": keep-alive\n\n")

    task = asyncio.create_task(tick())
    yield
    task.cancel()


async def close_streams(app: web.Application) -> None:
    for queue in list(clients):
        clients.discard(queue)
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(CLOSE)


def make_app() -> web.Application:
    app = web.Application(client_max_size=BODY_LIMIT)
    app.add_routes([web.get("/eventstream", eventstream), web.post("/message", message)])
    app.cleanup_ctx.append(keepalive)
    app.on_shutdown.append(close_streams)
    return app


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 3994
    print(json.dumps({"server": "python_sse", "python": sys.version.split()[0], "port": port}), flush=True)
    web.run_app(
        make_app(),
        host=HOST,
        port=port,
        backlog=4096,
        access_log=None,
        shutdown_timeout=2,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
