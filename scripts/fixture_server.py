#!/usr/bin/env python3
"""Tiny HTTP server for the download tests (stdlib only).

    fixture_server.py DIR

Binds 127.0.0.1 on an ephemeral port and prints `PORT <n>` as its first stdout line.
    GET /ok/<name>    the file DIR/<name>
    GET /cut/<name>   the full Content-Length, half the body, then the connection closes
    GET /slow/<name>  the file in 16 KiB chunks with 25 ms pauses (progress callbacks)
    GET /redirect/<name>  302 to /ok/<name> (GitHub release URLs redirect like this)
    anything else     404
Exits by itself after 120 s or when stdin closes, so a crashed test never leaves it running.
"""

import http.server
import os
import socket
import sys
import threading
import time

CHUNK = 16 * 1024
PAUSE = 0.025
LIFETIME = 120


class Handler(http.server.BaseHTTPRequestHandler):
    root = "."

    def log_message(self, format, *args):
        pass  # the tests read stdout for the port; request logs would only add noise

    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) != 3 or parts[1] not in ("ok", "cut", "slow", "redirect"):
            return self.send_error(404)
        name = os.path.basename(parts[2])
        path = os.path.join(self.root, name)
        if not name or not os.path.isfile(path):
            return self.send_error(404)
        if parts[1] == "redirect":
            self.send_response(302)
            self.send_header("Location", f"/ok/{name}")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        mode = parts[1]
        if mode == "ok":
            self.wfile.write(body)
        elif mode == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            for start in range(0, len(body), CHUNK):
                self.wfile.write(body[start : start + CHUNK])
                self.wfile.flush()
                time.sleep(PAUSE)


def watch_stdin():
    # Blocks until the parent closes our stdin or dies.
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: fixture_server.py DIR")
    Handler.root = sys.argv[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Timer(LIFETIME, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
