#!/usr/bin/env python3
"""load.py: many clients at once, for the tests (standard library only).

usage: load.py [-c CLIENTS] [-n REQUESTS] [-s SIZE] [-T SECONDS] PORT
       load.py --flood BYTES [--hold SECONDS] PORT

The first form opens CLIENTS connections to 127.0.0.1:PORT, and once all
are connected sends REQUESTS lines of SIZE bytes on each, one after the
other, checking that every reply is the ASCII uppercase of its request,
byte for byte. Then each client ends its stream and expects the server
to close with nothing more sent. Prints "clients=N requests=N elapsed=S",
the seconds from the moment all were connected to the last reply, and
exits 0; exits 1 with a reason on standard error on any mismatch, error,
or when it takes more than SECONDS in all (default 60).

The second form is a client that never reads: it sends BYTES of lines of
lowercase letters (or as many as go through before the sending has been
stuck for a second), prints "sent=N", keeps the connection open SECONDS
more (default 2) without reading, and exits 0. A server that drops the
connection ends it early: "sent=N" and the reason, exit 0.
"""

import argparse
import asyncio
import select
import socket
import sys
import time

HOST = "127.0.0.1"


def payload(client, request, size):
    """A request line of exactly size bytes (at least the header's)."""
    head = f"client {client} request {request}: ".encode()
    filler = b"the quick brown fox, 0123456789 jumps; "
    size = max(size, len(head) + 1)
    body = head + filler * (size // len(filler) + 1)
    return body[: size - 1] + b"\n"


async def client(i, args, connected, go):
    """One connection; returns None, or a string saying what went wrong."""
    try:
        reader, writer = await asyncio.open_connection(HOST, args.port)
    except OSError as e:
        return f"client {i}: connect: {e}"
    connected()
    await go.wait()
    try:
        for j in range(args.requests):
            req = payload(i, j, args.size)
            writer.write(req)
            await writer.drain()
            try:
                got = await reader.readexactly(len(req))
            except asyncio.IncompleteReadError as e:
                return f"client {i} request {j}: short reply {e.partial!r}"
            if got != req.upper():
                return f"client {i} request {j}: sent {req!r}, got {got!r}"
        writer.write_eof()
        extra = await reader.read()
        if extra:
            return f"client {i}: unexpected bytes after the replies: {extra!r}"
        return None
    except OSError as e:
        return f"client {i}: {e}"
    finally:
        writer.close()


async def clients(args):
    """Runs every client; returns (failures, elapsed seconds)."""
    go = asyncio.Event()
    ready = 0
    start = 0.0

    def connected():
        nonlocal ready, start
        ready += 1
        if ready == args.clients:
            start = time.monotonic()
            go.set()

    tasks = [asyncio.ensure_future(client(i, args, connected, go))
             for i in range(args.clients)]
    # A client that cannot connect never counts as ready: let the others go.
    for t in asyncio.as_completed(tasks):
        r = await t
        if r is not None and not go.is_set():
            start = time.monotonic()
            go.set()
        if r is not None:
            for other in tasks:
                other.cancel()
            return [r], 0.0
    return [], time.monotonic() - start


def flood(args):
    """The client that sends and never reads."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive window, so the replies pile up at the server.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, args.port))
    s.setblocking(False)
    chunk = (b"abcdefghijklmnopqrstuvwxyz" * 39 + b"\n") * 64
    sent, last = 0, time.monotonic()
    while sent < args.flood and time.monotonic() - last < 1.0:
        try:
            n = s.send(chunk[: min(len(chunk), args.flood - sent)])
            sent += n
            last = time.monotonic()
        except BlockingIOError:
            select.select([], [s], [], 0.1)
        except OSError as e:
            # The server dropped us (an idle timeout, say): that ends it.
            print(f"sent={sent} {e.strerror}", flush=True)
            return 0
    print(f"sent={sent}", flush=True)
    time.sleep(args.hold)
    s.close()
    return 0


def main():
    p = argparse.ArgumentParser(description="many clients at once")
    p.add_argument("-c", "--clients", type=int, default=1)
    p.add_argument("-n", "--requests", type=int, default=1)
    p.add_argument("-s", "--size", type=int, default=64)
    p.add_argument("-T", "--timeout", type=float, default=60.0)
    p.add_argument("--flood", type=int, metavar="BYTES")
    p.add_argument("--hold", type=float, default=2.0)
    p.add_argument("port", type=int)
    args = p.parse_args()
    if args.flood is not None:
        return flood(args)
    try:
        failures, elapsed = asyncio.run(
            asyncio.wait_for(clients(args), args.timeout))
    except asyncio.TimeoutError:
        print(f"load.py: timed out after {args.timeout}s", file=sys.stderr)
        return 1
    if failures:
        for f in failures:
            print(f"load.py: {f}", file=sys.stderr)
        return 1
    print(f"clients={args.clients} requests={args.clients * args.requests}"
          f" elapsed={elapsed:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
