"""What the Python peers share: options and the line protocol.

Each peer serves the protocol of upserver(1) with the tools a Python user
would reach for: a request is a line (at most --max-line bytes), the reply
is its ASCII uppercase after --delay seconds. They print a "listening"
line like the upservers, with the real port, so the benchmark can start
them on port 0.
"""
import argparse
import os
import sys
import time


def parse_args(model):
    p = argparse.ArgumentParser(description=f"{model} peer of upserver")
    p.add_argument("-b", "--bind", default="127.0.0.1")
    p.add_argument("-p", "--port", type=int, default=40001)
    p.add_argument("-d", "--delay", default="1s")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--max-line", type=int, default=65536)
    a = p.parse_args()
    a.delay = parse_time(a.delay)
    return a


def parse_time(s):
    for unit, scale in (("ms", 1e-3), ("us", 1e-6), ("s", 1.0)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * scale
    return float(s)


def listening(model, addr):
    host, port = addr[:2]
    sys.stdout.write(f"{time.time():.6f} listening {host}:{port} "
                     f"model={model} pid={os.getpid()}\n")
    sys.stdout.flush()
