#!/usr/bin/env python3
"""http.server.ThreadingHTTPServer (the tutorial's threaded HTTP server)
answering GET with the uppercased path, as upserver --http does:
python3 http_peer.py [-p PORT] [-d DELAY]."""
import http.server
import time

import common


def main():
    args = common.parse_args("http.server")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like upserver --http
        # Buffer the response so that head and body leave in one segment:
        # unbuffered, they go as two, and Nagle's algorithm with delayed
        # ACKs adds 40 ms to every keep-alive request.
        wbufsize = -1

        def do_GET(self):
            if args.delay:
                time.sleep(args.delay)
            body = self.path.upper().encode() + b"\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Server(http.server.ThreadingHTTPServer):
        allow_reuse_address = True
        request_queue_size = 4096

    srv = Server((args.bind, args.port), Handler)
    common.listening("py-http", srv.server_address)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
