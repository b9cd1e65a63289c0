# A tiny reward endpoint for HTTPRewardSource tests, bound to 127.0.0.1 on an
# ephemeral port (printed as the first line of stdout). The path picks the
# behaviour: /score (score = number of characters of each completion), /slow
# (answers after 2 s), /error (HTTP 500), /malformed (200 with broken JSON),
# /wrong-count (one score too few), /flaky (503 on its first request, then as
# /score), /bad-request (HTTP 400). Bodies over 1 MiB are refused. The server
# exits when stdin closes or after 120 s, whichever comes first.
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIMIT = 1 << 20
seen = {"flaky": 0}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length > LIMIT:
            return self.reply(413, "too large")
        request = json.loads(self.rfile.read(length))
        completions = request["completions"]
        assert len(request["prompts"]) == len(completions) == len(request["metadata"])
        scores = [float(len(c)) for c in completions]
        path = self.path
        if path == "/slow":
            time.sleep(2)
        if path == "/error":
            return self.reply(500, "boom")
        if path == "/bad-request":
            return self.reply(400, "no such model")
        if path == "/malformed":
            return self.reply(200, '{"scores": [1, 2')
        if path == "/wrong-count":
            return self.reply(200, json.dumps({"scores": scores[:-1]}))
        if path == "/flaky":
            seen["flaky"] += 1
            if seen["flaky"] == 1:
                return self.reply(503, "warming up")
        self.reply(200, json.dumps({"scores": scores}))


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
waiter = threading.Thread(target=sys.stdin.read, daemon=True)
waiter.start()
waiter.join(timeout=120)
server.shutdown()
