#!/usr/bin/env python3
"""socketserver.TCPServer, ForkingTCPServer or ThreadingTCPServer serving
the upserver protocol: python3 socketserver_peer.py {tcp,forking,threading}
[-p PORT] [-d DELAY]."""
import socketserver
import sys
import time

import common


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline(self.server.max_line)
            if not line:
                return
            if self.server.delay:
                time.sleep(self.server.delay)
            self.wfile.write(line.upper())


SERVERS = {
    "tcp": socketserver.TCPServer,
    "forking": socketserver.ForkingTCPServer,
    "threading": socketserver.ThreadingTCPServer,
}


def main():
    kind = sys.argv.pop(1) if len(sys.argv) > 1 else "tcp"
    args = common.parse_args(f"socketserver-{kind}")
    base = SERVERS[kind]

    class Server(base):
        allow_reuse_address = True
        request_queue_size = 4096
        daemon_threads = True
        max_children = 100000  # ForkingMixIn: no cap, like upserver-fork -c

    srv = Server((args.bind, args.port), Handler)
    srv.delay = args.delay
    srv.max_line = args.max_line
    common.listening(f"py-{kind}", srv.server_address)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
