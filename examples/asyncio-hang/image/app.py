"""A tiny request/response service and its asyncio client, as in the field report where a client
hung for good after a network blip: the server went away while the client waited for a reply, the
FIN never reached it, and nothing ever told it the connection was dead.

    python3 app.py server PORT [--delay SECONDS]
    python3 app.py client HOST PORT [--timeout SECONDS]

The client sends `ping` and waits for `pong` on one long-lived connection, printing `reply N` for
each answer. Without --timeout it waits as long as it takes (the bug); with it, a reply that does
not come in time makes it reconnect (the fix).
"""

import asyncio
import signal
import sys


async def serve(port: int, delay: float) -> None:
    async def handle(reader, writer):
        while line := await reader.readline():
            await asyncio.sleep(delay)
            writer.write(b"pong " + line)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", port)
    print(f"serving on {port}", flush=True)
    async with server:
        await server.serve_forever()


async def client(host: str, port: int, timeout: float | None) -> None:
    n = 0
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            print(f"connect failed: {e}", flush=True)
            await asyncio.sleep(0.5)
            continue
        print(f"connected to {host}:{port}", flush=True)
        try:
            while True:
                writer.write(b"ping\n")
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), timeout)
                if not line:
                    raise ConnectionError("the server closed the connection")
                n += 1
                print(f"reply {n}", flush=True)
        except (OSError, ConnectionError, asyncio.TimeoutError) as e:
            print(f"reconnecting: {type(e).__name__} {e}", flush=True)
            writer.close()


def main() -> None:
    # As PID 1 a process gets no default SIGTERM action: exit on it, like a well-behaved service.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = sys.argv[1:]
    if args[:1] == ["server"]:
        delay = float(args[3]) if args[2:3] == ["--delay"] else 0.0
        asyncio.run(serve(int(args[1]), delay))
    elif args[:1] == ["client"]:
        timeout = float(args[4]) if args[3:4] == ["--timeout"] else 0.0
        # 0: wait for a reply as long as it takes, as the client of the report did.
        asyncio.run(client(args[1], int(args[2]), timeout or None))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
