#!/usr/bin/env python3
"""fake-server.py: a concurrent up server in asyncio, for upclient's tests.

It speaks the protocol (a line in, its ASCII uppercase out after --delay)
and serves every connection at once, so the client's tests have a
concurrent server whatever has been built yet. It can also misbehave on
purpose, which the real servers never do:

  --corrupt K    the reply to each connection's K-th request has its
                 first byte changed
  --truncate K   the reply to each connection's K-th request loses its
                 last byte, then the server closes the connection
  --longer K     the reply to each connection's K-th request has five
                 more bytes, "EXTRA", after its own
  --no-close     after the client's end of stream, keep the connection
                 open instead of closing it
  --hold N       answer nothing until N connections have been open at once
  --no-accept    listen with a backlog of 0 and never accept
  --record FILE  append every request, as received, to FILE
  --stall SECONDS --stall-after N
                 once, when the N-th request (over all connections)
                 arrives, stop answering everyone for SECONDS: that
                 request and every one in its delay meanwhile wait until
                 then ("stall" is logged when it begins), as an event
                 loop does when one request computes inline

It logs like the up servers, one line per event on standard output:
"listening", "accepted ... conns=N" (open now), "responded ... busy=N"
(requests in their delay now, this one included), "closed".
"""
import argparse
import asyncio
import os
import resource
import socket
import sys
import time


def log(event, peer, extra=""):
    """Writes one event line and flushes it, like up_log."""
    line = "%.6f %s %s" % (time.time(), event, peer)
    if extra:
        line += " " + extra
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def address(sockaddr):
    """'127.0.0.1:80' or '[::1]:80'."""
    host, port = sockaddr[0], sockaddr[1]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


class Server:
    def __init__(self, args):
        self.args = args
        self.conns = 0
        self.busy = 0
        self.received = 0
        self.stall_until = 0.0
        self.held = asyncio.Event()
        if args.hold <= 0:
            self.held.set()

    async def serve(self, reader, writer):
        args = self.args
        peer = address(writer.get_extra_info("peername"))
        self.conns += 1
        log("accepted", peer, "conns=%d" % self.conns)
        if self.conns >= args.hold:
            self.held.set()
        served = 0
        try:
            while True:
                line = await reader.readline()
                if not line and args.no_close:
                    await asyncio.Event().wait()
                if not line:
                    break
                served += 1
                if args.record:
                    with open(args.record, "ab") as f:
                        f.write(line)
                await self.held.wait()
                self.busy += 1
                busy = self.busy
                await asyncio.sleep(args.delay)
                self.received += 1
                if args.stall > 0 and self.received == args.stall_after:
                    self.stall_until = time.monotonic() + args.stall
                    log("stall", peer, "seconds=%g" % args.stall)
                wait = self.stall_until - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.busy -= 1
                reply = line.upper()  # bytes: ASCII a-z only
                if served == args.corrupt:
                    first = b"!" if reply[:1] == b"?" else b"?"
                    reply = first + reply[1:]
                if served == args.longer:
                    reply += b"EXTRA"
                if served == args.truncate:
                    writer.write(reply[:-1])
                    await writer.drain()
                    log("responded", peer, "bytes=%d busy=%d truncated"
                        % (len(reply) - 1, busy))
                    break
                writer.write(reply)
                await writer.drain()
                log("responded", peer, "bytes=%d busy=%d"
                    % (len(reply), busy))
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            log("error", peer, "op=read error=%s" % type(e).__name__)
        finally:
            self.conns -= 1
            writer.close()
            log("closed", peer, "requests=%d" % served)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("-p", "--port", type=int, default=0)
    p.add_argument("-d", "--delay", type=float, default=0.0)
    p.add_argument("--corrupt", type=int, default=0)
    p.add_argument("--truncate", type=int, default=0)
    p.add_argument("--longer", type=int, default=0)
    p.add_argument("--hold", type=int, default=0)
    p.add_argument("--no-accept", action="store_true")
    p.add_argument("--no-close", action="store_true")
    p.add_argument("--record")
    p.add_argument("--stall", type=float, default=0.0)
    p.add_argument("--stall-after", type=int, default=1)
    args = p.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    if args.no_accept:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", args.port))
        s.listen(0)
        log("listening", address(s.getsockname()), "model=fake-no-accept")
        await asyncio.Event().wait()

    server = Server(args)
    srv = await asyncio.start_server(server.serve, "127.0.0.1", args.port,
                                     backlog=4096, limit=1 << 24)
    log("listening", address(srv.sockets[0].getsockname()),
        "model=fake pid=%d" % os.getpid())
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
