// A bare Node SSE server for bench/fake_provider_streams.py: every POST is answered with EVENTS copies of
// the bytes in EVENT_FILE, one res.write each, then the end of the response. Nothing else: no
// parsing of the request, no headers beyond the content type. Usage: node bare_sse_server.js EVENT_FILE EVENTS
"use strict";
const http = require("http");
const fs = require("fs");

const event = fs.readFileSync(process.argv[2]);
const events = Number(process.argv[3]);
const server = http.createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
    for (let i = 0; i < events; i++) res.write(event);
    res.end();
  });
});
server.listen(0, "127.0.0.1", () => console.log("listening on http://127.0.0.1:" + server.address().port));
