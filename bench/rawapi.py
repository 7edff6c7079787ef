#!/usr/bin/env python3
"""The reference for churn throughput: the same four Docker API calls the harness's `churn` makes
(create, start, stop with a 1 s grace, force-remove), sent as plain HTTP/1.1 over the daemon's unix
socket on kept-alive connections, CONCURRENCY cycles at a time. Prints cycles per second as JSON.

    rawapi.py SOCKET IMAGE CYCLES CONCURRENCY [-- CMD...]
"""
import http.client
import json
import socket
import sys
import threading
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


def call(conn, method, url, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, url, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300 and r.status != 304:
        raise RuntimeError(f"{method} {url}: {r.status} {data[:200]!r}")
    return json.loads(data) if data else None


def main():
    sock, image, cycles, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    cmd = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else ["sleep", "600"]
    counter = iter(range(cycles))
    lock = threading.Lock()
    errors = []

    def worker():
        conn = UnixConnection(sock)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                c = call(conn, "POST", f"/containers/create?name=sd-rawapi-{i}-{time.time_ns()}",
                         {"Image": image, "Cmd": cmd, "Labels": {"io.shakedown.bench": "rawapi"}})
                call(conn, "POST", f"/containers/{c['Id']}/start")
                call(conn, "POST", f"/containers/{c['Id']}/stop?t=1")
                call(conn, "DELETE", f"/containers/{c['Id']}?force=1&v=1")
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(str(e))

    t = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - t
    print(json.dumps({"cycles": cycles, "concurrency": concurrency, "seconds": elapsed,
                      "cycles_per_second": cycles / elapsed, "errors": errors[:3], "failed": len(errors)}))


if __name__ == "__main__":
    main()
