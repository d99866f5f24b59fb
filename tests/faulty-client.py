#!/usr/bin/env python3
"""faulty-client.py: the clients a careless network throws at a server.

    faulty-client.py PORT MODE [ARG]

Modes:
  reset-request   send half a request (no newline), then reset (SO_LINGER 0)
  reset-reply     send 8 MB of lines, read 64 KB of replies, then reset
  never-read MB   send MB megabytes of lines without ever reading; print how
                  many bytes the server took before it stopped reading
                  ("sent N") and hold the connection until the server closes
                  it or 30 s pass
  idle N          open N connections, send nothing, and print how many the
                  server closed ("closed N") within 30 s
Exit status 0 when the client did what it set out to do.
"""
import select
import socket
import struct
import sys
import time


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    if mode == "reset-request":
        s = connect(port)
        s.sendall(b"half a requ")
        time.sleep(0.2)
        reset(s)
    elif mode == "reset-reply":
        s = connect(port)
        line = b"x" * 1023 + b"\n"
        s.setblocking(False)
        sent, got, total = 0, 0, 8 * 1024 * 1024
        while got < 65536:
            r, w, _ = select.select([s], [s] if sent < total else [], [], 30)
            if not r and not w:
                sys.exit("reset-reply: no progress")
            if w:
                sent += s.send(line)
            if r:
                data = s.recv(65536)
                if not data:
                    sys.exit("reset-reply: closed early")
                got += len(data)
        reset(s)
    elif mode == "never-read":
        s = connect(port)
        # a small receive buffer, so the replies back up at once
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        line = b"y" * 99 + b"\n"
        total, sent = int(float(sys.argv[3]) * 1024 * 1024), 0
        deadline = time.time() + 30
        while sent < total and time.time() < deadline:
            # two seconds without room to send: the server stopped reading
            _, w, x = select.select([], [s], [s], 2)
            if x or not w:
                break
            try:
                sent += s.send(line)
            except OSError:
                break
        print(f"sent {sent}", flush=True)
        # hold the connection until the server gives up on us
        while time.time() < deadline:
            try:
                r, _, _ = select.select([s], [], [], 1)
                if r and not s.recv(1 << 20):
                    break
            except OSError:
                break
        s.close()
    elif mode == "idle":
        n = int(sys.argv[3])
        socks = [connect(port) for _ in range(n)]
        open_ = set(socks)
        deadline = time.time() + 30
        while open_ and time.time() < deadline:
            r, _, _ = select.select(list(open_), [], [], 1)
            for s in r:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    open_.discard(s)
                    s.close()
        print(f"closed {n - len(open_)}", flush=True)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
