// A plain Node SSE fan-out server, the shape of the Node tutorials (node:http, a Set of open responses), for
// scripts/compare.sh (see README.md beside this file).
//
//   GET  /eventstream  keeps a text/event-stream response open
//   POST /message      writes the request body as one event's `data:` lines to every open stream
//
// Usage: node node-sse.mjs [port] (default 3993); listens on 127.0.0.1 only. No dependencies.

import http from "node:http";

const HOST = "127.0.0.1";
const PORT = Number(process.argv[2] ?? 3993);
// Like Hearth's default body limit and keep-alive interval.
const BODY_LIMIT = 16 * 1024;
const KEEPALIVE_MS = 15_000;

/** Every open stream's response. */
const clients = new Set();

function subscribe(req, res) {
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    Connection: "keep-alive",
  });
  // Sends the head at once, so the client knows the stream is open before the first event.
  res.write(": connected\n\n");
  clients.add(res);
  req.on("close", () => clients.delete(res));
}

function publish(req, res) {
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > BODY_LIMIT) {
      res.writeHead(413, { "Content-Type": "application/json", Connection: "close" });
      res.end('{"error":"body too large"}');
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (res.writableEnded) return;
    const body = Buffer.concat(chunks).toString("utf8");
    // One `data:` line per line of the body, as the SSE format requires.
    const event = body.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`).join("") + "\n";
    for (const client of clients) client.write(event);
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ delivered: clients.size }));
  });
}

const server = http.createServer((req, res) => {
  const path = req.url.split("?")[0];
  if (req.method === "GET" && path === "/eventstream") return subscribe(req, res);
  if (req.method === "POST" && path === "/message") return publish(req, res);
  res.writeHead(404, { "Content-Type": "application/json" });
  res.end('{"error":"not found"}');
});

// A comment line on every stream now and then keeps idle connections alive through proxies (one timer for all).
setInterval(() => {
  for (const client of clients) client.write(": keep-alive\n\n");
}, KEEPALIVE_MS).unref();

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    for (const client of clients) client.end();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

server.listen({ host: HOST, port: PORT, backlog: 4096 }, () => {
  console.log(`node-sse listening on http://${HOST}:${PORT} (node ${process.version})`);
});
