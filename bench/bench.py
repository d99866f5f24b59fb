#!/usr/bin/env python3
"""bench.py: every upserver model side by side with what users would pick
instead, on loopback, driven by upclient.

    python3 bench/bench.py [--bin DIR] [--runs N] [--out FILE] [--quick]
                           [--only IDS] [--baseline DIR] [--servers NAMES]

--only takes workload ids (a20,a1000,b,c,d,h,cpu) and the scenarios "idle"
(50 busy persistent clients while 0, 1 000 and 8 000 idle connections
are held open, upserver-poll on every backend, redis-server and memcached
as references when installed), "stream" (1 000 000 pipelined lines of
100 bytes through upclient) and "timeline" (uptimeline's lines per second
on generated logs: 10 000 connections open at once, the same log read
from its middle, and a sequential one; with --baseline, the other
build's uptimeline beside it), "uring" (upserver-coro on io_uring against
the same coroutine code on epoll, and upserver-poll on epoll: ping-pong
with 1, 50 and 1 000 persistent clients, 50 busy clients beside 8 000
idle connections, 1 000 000 pipelined lines, churn; requests/s, server
CPU and system calls per request, the latter counted by strace -c -f on
a separate short run) and "latency" (latency by percentile,
open loop at one fixed rate, for fork, thread and poll with --cpu: `upclient
-R --hist`, the runs' histograms merged, written to latency.json, drawn by
charts.py as latency.svg on a log scale of 1/(1-p), as wrk2's plots).
`make bench BENCH_ARGS="--only idle"` runs one of them.

--servers keeps only the contenders named (up-poll,base-poll,...).
--baseline DIR adds the servers of another build (`make bench
BENCH_BASE=REV` builds commit REV there) as base-seq, base-fork,
base-thread and base-poll, run beside today's in every workload: a change
meant to keep the speed shows its CPU per request side by side with the
code before it, in one run.

Contenders are interleaved (A B C ... A B C ...) so that drift of the
machine hits all alike; each (workload, contender) pair runs --runs times
and is reported as the median with min-max. Per run: requests/s and
p50/p99 latency from `upclient -s`, the time of the last reply, and the
server's CPU time (its own and its reaped children's, from /proc) per
1 000 requests. Writes the tables and the targets of issue 6 to --out
(bench/results.md) and prints them, and every run to results.json beside
it, from which bench/charts.py draws the charts results.md shows.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
TICKS = os.sysconf("SC_CLK_TCK")


class Contender:
    def __init__(self, name, argv, kind, delay_ok=True, cap=None,
                 proto="line", workers=1, only=None):
        self.name = name          # as shown in the tables
        self.argv = argv          # the command, before -p 0 -d DELAY
        self.kind = kind          # "up", "py", "socat" or "nginx"
        self.delay_ok = delay_ok  # can simulate --delay
        self.cap = cap            # most concurrent clients it can take
        self.proto = proto        # "line", "http" or "both"
        self.workers = workers    # nginx: worker_processes
        self.only = only          # the workload ids it runs, or all


def poll_backends(bindir):
    """The backends this build's upserver-poll has, from its refusal of
    one that is none."""
    r = subprocess.run([os.path.join(bindir, "upserver-poll"), "--backend",
                        "?"], capture_output=True, text=True)
    m = re.search(r"unknown backend '\?' \((.*)\)", r.stderr)
    have = m.group(1).split(", ") if m else ["poll"]
    if "uring" in have:
        # the build has it; the kernel may still refuse it
        probe = subprocess.run([os.path.join(bindir, "upserver-poll"),
                                "--backend", "uring", "-b", "999.0.0.0",
                                "-p", "0"], capture_output=True, text=True)
        if "--backend: uring" in probe.stderr:
            have.remove("uring")
    return have


def contenders(bindir, basedir=None):
    up = [Contender(f"up-{m}", [os.path.join(bindir, f"upserver-{m}"), "-q"],
                    "up", proto="both")
          for m in ("seq", "fork", "thread", "poll", "coro")
          if os.access(os.path.join(bindir, f"upserver-{m}"), os.X_OK)]
    if basedir:     # the same servers, built from another commit
        up += [Contender(f"base-{m}", [os.path.join(basedir,
                                                    f"upserver-{m}"), "-q"],
                         "up", proto="both")
               for m in ("seq", "fork", "thread", "poll", "coro")
               if os.access(os.path.join(basedir, f"upserver-{m}"), os.X_OK)]
    # one event loop per core (issue 13), on the workloads where cores
    # matter: HTTP beside nginx with as many workers, and CPU-bound work
    if any(c.name == "up-poll" for c in up):
        up.append(Contender("up-poll-w2", [os.path.join(
            bindir, "upserver-poll"), "-q", "-w", "2"], "up", proto="both",
            only={"h", "cpu"}))
    py = sys.executable
    peers = os.path.join(HERE, "peers")
    out = up + [
        Contender("py-tcp", [py, os.path.join(peers, "socketserver_peer.py"),
                             "tcp"], "py"),
        Contender("py-forking", [py, os.path.join(peers,
                                 "socketserver_peer.py"), "forking"], "py"),
        Contender("py-threading", [py, os.path.join(peers,
                                   "socketserver_peer.py"), "threading"], "py"),
        Contender("py-asyncio", [py, os.path.join(peers, "asyncio_peer.py")],
                  "py", cap=1000),
    ]
    out.append(Contender("py-http", [py, os.path.join(peers,
                                     "http_peer.py")], "py", proto="http"))
    if shutil.which("socat") and shutil.which("stdbuf"):
        out.append(Contender("socat-fork", ["socat"], "socat", delay_ok=False))
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if nginx:
        out.append(Contender("nginx-1w", [nginx], "nginx", delay_ok=False,
                             proto="http"))
        out.append(Contender("nginx-2w", [nginx], "nginx", delay_ok=False,
                             proto="http", workers=2))
    return out


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(p, port, what):
    deadline = time.time() + 10
    while time.time() < deadline:
        r = subprocess.run(["ss", "-ltn", f"sport = :{port}"],
                           capture_output=True, text=True)
        if f":{port}" in r.stdout:
            return p, port
        time.sleep(0.05)
    p.kill()
    raise RuntimeError(f"{what} did not start")


def start_nginx(c):
    """nginx with c.workers workers answering every request with 200 at
    once."""
    import tempfile
    port = free_port()
    d = tempfile.mkdtemp(prefix="up-bench-nginx-")
    os.makedirs(os.path.join(d, "logs"))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes {c.workers};
error_log {d}/logs/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ default_type text/plain; return 200 "OK\\n"; }}
    }}
}}
""")
    p = subprocess.Popen(c.argv + ["-c", conf, "-p", d, "-g", "daemon off;"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_port(p, port, "nginx")


SEQUENTIAL = {"up-seq", "py-tcp"}


def start(c, delay, http=False, extra=()):
    """Starts contender c on a free port, with extra arguments for an up
    server; returns (process, port)."""
    if c.kind == "nginx":
        return start_nginx(c)
    if c.kind == "socat":
        # socat forks a child per connection that runs tr, unbuffered
        port = free_port()
        p = subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,"
             "backlog=4096", "EXEC:stdbuf -o0 tr a-z A-Z"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return wait_port(p, port, "socat")
    argv = c.argv + ["-p", "0", "-d", delay]
    if c.kind == "up":
        argv += ["-c", "20000", "-t", "0"] + (["--http"] if http else [])
        argv += list(extra)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    m = re.search(r" listening \S*:(\d+) ", line)
    if not m:
        p.kill()
        raise RuntimeError(f"{c.name} did not start: {line!r}")
    return p, int(m.group(1))


def cpu_seconds(pid):
    """utime+stime of pid, of its live descendants and of the children it
    has waited for, in seconds (nginx works in a child; fork's children
    count once reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is field 3 (state): utime is 14, stime 15, cutime 16, cstime 17
    total = sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tids = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids = f.read().split()
        except OSError:
            continue
        total += sum(cpu_seconds(int(k)) for k in kids)
    return total


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def run_wrk(c, w):
    """One wrk run of HTTP workload w against contender c."""
    proc, port = start(c, w["delay"], http=True)
    try:
        before = cpu_seconds(proc.pid)
        r = subprocess.run(["wrk", "--latency"] + w["wrk"] +
                           [f"http://127.0.0.1:{port}/bench"],
                           capture_output=True, text=True, timeout=120)
        time.sleep(0.2)
        cpu = cpu_seconds(proc.pid) - before
    finally:
        stop(proc)
    out = r.stdout

    def ms(label):
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]

    m = re.search(r"(\d+) requests in ([\d.]+)s", out)
    reqs = int(m.group(1)) if m else 0
    errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) "
                                          r"(\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs += int(non2xx.group(1)) if non2xx else 0
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "ok": r.returncode == 0 and errs == 0,
        "errors": errs + (r.returncode != 0),
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "last": float(m.group(2)) if m else float("nan"),
        "cpu_k": cpu / reqs * 1000 if reqs else float("nan"),
    }


def run_once(bindir, c, w):
    """One run of workload w against contender c; returns a dict."""
    if "wrk" in w:
        return run_wrk(c, w)
    proc, port = start(c, w["delay"], extra=w.get("server", ()))
    try:
        before = cpu_seconds(proc.pid)
        argv = [os.path.join(bindir, "upclient"), "-p", str(port), "-s",
                "--verify", "--timeout", "60s"] + w["client"]
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=600)
        wall = time.monotonic() - t0
        time.sleep(0.2)   # let the server reap its children
        cpu = cpu_seconds(proc.pid) - before
    finally:
        stop(proc)
    stats = dict(re.findall(r"^(\w+): (\S+)$", r.stderr, re.M))
    reqs = int(stats.get("requests", 0))
    return {
        "ok": r.returncode == 0,
        "errors": int(stats.get("errors", 0)) + (r.returncode != 0),
        "rps": float(stats.get("requests_per_s", 0)),
        "p50": float(stats.get("latency_p50_ms", 0)),
        "p99": float(stats.get("latency_p99_ms", 0)),
        "last": float(stats.get("wall_s", wall)),
        "cpu_k": cpu / reqs * 1000 if reqs else float("nan"),
    }


def workloads(quick):
    scale = 10 if quick else 1
    return [
        {"id": "a20", "title": "(a) delay masking: -d 500ms, 20 clients "
         "at once, one request each", "delay": "500ms",
         "client": ["-c", "20", "-n", "1", "-r", "32"], "ideal": 0.5,
         "clients": 20},
        {"id": "a1000", "title": "(a) delay masking: -d 500ms, 1 000 "
         "clients at once, one request each", "delay": "500ms",
         "client": ["-c", "1000", "-n", "1", "-r", "32"], "ideal": 0.5,
         "clients": 1000, "skip_sequential": True},
        {"id": "b", "title": f"(b) churn: -d 0, {5000 // scale} connections, "
         "50 at a time, one request each", "delay": "0",
         "client": ["-c", str(5000 // scale), "-j", "50", "-n", "1", "-r",
                    "32"], "clients": 50},
        {"id": "c", "title": f"(c) persistent: -d 0, 50 connections x "
         f"{2000 // scale} requests", "delay": "0",
         "client": ["-c", "50", "-n", str(2000 // scale), "-r", "32"],
         "clients": 50},
        {"id": "d", "title": "(d) C10K: 10 000 connections at once, -d 1s",
         "delay": "1s", "client": ["-c", "10000", "-n", "1", "-r", "16"],
         "ideal": 1.0, "clients": 10000, "only": {"up-poll", "up-thread",
                                                  "up-fork", "up-coro"}},
        {"id": "h", "title": "(h) HTTP keep-alive: wrk -t 2 -c 50 -d "
         f"{5 // (5 if quick else 1)}s, -d 0 (nginx: one or two workers, return 200; "
         "seq left out: it serves one keep-alive connection at a time)",
         "delay": "0", "wrk": ["-t", "2", "-c", "50", "-d",
                               f"{5 // (5 if quick else 1)}s"],
         "clients": 50, "http": True, "skip_sequential": True},
        {"id": "cpu", "title": "(cpu) CPU-bound: --cpu -d 100ms, 4 clients "
         f"at once x 5 requests, {os.cpu_count()} cores (ideal: the 2 s of "
         "CPU spread over min(4, cores))", "delay": "100ms",
         "server": ["--cpu"], "client": ["-c", "4", "-n", "5", "-r", "32"],
         "ideal": round(2.0 / min(4, os.cpu_count() or 1), 2),
         "clients": 4, "only": {"up-seq", "up-fork", "up-thread", "up-poll",
                                "up-poll-w2"}},
    ]


def applies(w, c):
    name = c.name.replace("base-", "up-", 1)    # a baseline runs as its model
    if w.get("http") and c.proto == "line":
        return False
    if not w.get("http") and c.proto == "http":
        return False
    if w.get("http") and not shutil.which("wrk"):
        return False
    if "only" in w and name not in w["only"]:
        return False
    if c.only is not None and w["id"] not in c.only:
        return False
    if w["delay"] != "0" and not c.delay_ok:
        return False
    if w.get("skip_sequential") and name in SEQUENTIAL:
        return False
    if c.cap is not None and w["clients"] > c.cap:
        return False
    return True


def fmt_med(values, f="{:.0f}"):
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    med = statistics.median(values)
    return f"{f.format(med)} ({f.format(min(values))}-{f.format(max(values))})"


def write_data(path, ws, cs, results, runs):
    """Every run of every (workload, contender) as JSON, for charts.py."""
    keep = ("id", "title", "ideal", "clients", "delay", "http")
    data = {"date": time.strftime("%Y-%m-%d"), "runs": runs,
            "workloads": [dict({k: w[k] for k in keep if k in w}, results={
                c.name: results[(w["id"], c.name)] for c in cs
                if results[(w["id"], c.name)]}) for w in ws]}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    nofile = subprocess.run(["sh", "-c", "ulimit -n; ulimit -Hn"],
                            capture_output=True, text=True).stdout.split()
    somax = open("/proc/sys/net/core/somaxconn").read().strip()
    return (f"- CPU: {os.cpu_count()} cores, {cpu}\n"
            f"- memory: {mem:.0f} GiB\n"
            f"- kernel: {platform.system()} {platform.release()}\n"
            f"- limits: open files {nofile[0]} (hard {nofile[1]}), "
            f"somaxconn {somax}\n"
            f"- Python {platform.python_version()}, compiler: "
            f"{subprocess.run(['cc', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(TOP, "bin"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"))
    ap.add_argument("--quick", action="store_true",
                    help="a tenth of the requests, for trying it out")
    ap.add_argument("--only", help="comma-separated workload ids "
                    "(a20,a1000,b,c,d,h,cpu) and scenarios "
                    "(idle,stream,timeline,latency,switch,rss,uring)")
    ap.add_argument("--rss-conns", type=int, default=10000,
                    help="idle connections of the rss scenario [10000]")
    ap.add_argument("--baseline", help="a bin/ directory built from "
                    "another commit, run beside this one as base-MODEL")
    ap.add_argument("--servers", help="comma-separated contenders to run "
                    "(up-poll,base-poll,nginx-1w,...), all when not given")
    args = ap.parse_args()

    cs = contenders(args.bin, args.baseline)
    if args.servers:
        cs = [c for c in cs if c.name in args.servers.split(",")]
    ws = workloads(args.quick)
    only = args.only.split(",") if args.only else None
    if only:
        ws = [w for w in ws if w["id"] in only]
    t_start = time.monotonic()
    extra = []
    if only is None or "idle" in only:
        extra += idle_scenario(args.bin, args.runs, args.quick)
    if only is None or "stream" in only:
        extra += stream_scenario(args.bin, args.runs, args.quick)
    if only is None or "switch" in only:
        extra += switch_scenario(args.bin, args.runs)
    if only is None or "rss" in only:
        extra += rss_scenario(args.bin, args.runs, args.rss_conns)
    if only is None or "timeline" in only:
        extra += timeline_scenario(args.bin, args.baseline, args.runs,
                                   args.quick)
    if only is None or "uring" in only:
        extra += uring_scenario(args.bin, args.runs, args.quick)
    if only is None or "latency" in only:
        extra += latency_scenario(args.bin, args.runs, args.quick,
                                  os.path.dirname(os.path.abspath(args.out)))
    results = {(w["id"], c.name): [] for w in ws for c in cs}
    plan = [(w, c) for w in ws for c in cs if applies(w, c)]
    total = len(plan) * args.runs
    done = 0
    for w in ws:
        mine = [c for c in cs if applies(w, c)]
        for run in range(args.runs):
            for c in mine:       # interleaved: A B C, A B C, ...
                done += 1
                print(f"[{done:3}/{total}] {w['id']:<5} run {run + 1} "
                      f"{c.name:<13}", end=" ", flush=True)
                try:
                    r = run_once(args.bin, c, w)
                except Exception as e:  # a contender that fails is reported
                    print(f"failed: {e}")
                    continue
                results[(w["id"], c.name)].append(r)
                print(f"{r['rps']:10.0f} req/s  last {r['last']:.3f}s  "
                      f"errors {r['errors']}", flush=True)

    write_data(os.path.splitext(args.out)[0] + ".json", ws, cs, results,
               args.runs)
    out = ["# Benchmark results", "",
           f"`make bench` on {time.strftime('%Y-%m-%d')}, {args.runs} runs "
           "per contender, interleaved; medians with (min-max). Load from "
           "`upclient --verify -s` on the same machine, over loopback.", "",
           "## Machine", "", machine(), ""]
    best = {}
    for w in ws:
        out += [f"## {w['title']}", "",
                "| server | req/s | p50 ms | p99 ms | last reply s | "
                "CPU s / 1000 req | errors | vs best peer (req/s) |",
                "|---|---|---|---|---|---|---|---|"]
        peers = [(c.name, results[(w["id"], c.name)]) for c in cs
                 if c.kind != "up" and results[(w["id"], c.name)]]
        best_peer = max((statistics.median([r["rps"] for r in runs]), name)
                        for name, runs in peers) if peers else (0, None)
        best[w["id"]] = best_peer
        rows = []
        for c in cs:
            runs = results[(w["id"], c.name)]
            if not runs:
                continue
            rows.append((c.name, runs))
            med = statistics.median([r["rps"] for r in runs])
            ratio = (f"{med / best_peer[0]:.2f}x {best_peer[1]}"
                     if best_peer[0] else "n/a")
            out.append(
                f"| {c.name} | {fmt_med([r['rps'] for r in runs])} | "
                f"{fmt_med([r['p50'] for r in runs], '{:.1f}')} | "
                f"{fmt_med([r['p99'] for r in runs], '{:.1f}')} | "
                f"{fmt_med([r['last'] for r in runs], '{:.3f}')} | "
                f"{fmt_med([r['cpu_k'] for r in runs], '{:.3f}')} | "
                f"{sum(r['errors'] for r in runs)} | {ratio} |")
        out.append("")
        if rows:    # drawn by bench/charts.py from results.json
            out += [f"![{w['title']}]({w['id']}.svg)", ""]
        results_rows = dict(rows)
        w["rows"] = results_rows

    out += extra
    if not ws:
        return finish(out, args, t_start)
    if args.baseline:
        out += ["", "## Against the baseline build", "",
                "Server CPU microseconds per request, median (min-max) of "
                "the runs, and today's median over the baseline's (1.00: "
                "the same).", "",
                "| workload | server | today | baseline | ratio |",
                "|---|---|---|---|---|"]
        for w in ws:
            for m in ("seq", "fork", "thread", "poll"):
                now_runs = w["rows"].get(f"up-{m}")
                base_runs = w["rows"].get(f"base-{m}")
                if not now_runs or not base_runs:
                    continue
                a = [r["cpu_k"] * 1000 for r in now_runs]
                b = [r["cpu_k"] * 1000 for r in base_runs]
                ratio = statistics.median(a) / statistics.median(b)
                out.append(f"| {w['id']} | {m} | {fmt_med(a, '{:.2f}')} | "
                           f"{fmt_med(b, '{:.2f}')} | {ratio:.2f} |")
    if args.servers:    # the targets compare contenders left out
        return finish(out, args, t_start)
    out += ["", "## Targets (issue 6)", ""]

    def med(wid, name, key):
        runs = next((w["rows"].get(name) for w in ws if w["id"] == wid),
                    None)
        return statistics.median([r[key] for r in runs]) if runs else None

    def target(label, value, goal, ok, unit=""):
        if value is None:
            out.append(f"- {label}: not measured")
            return
        out.append(f"- {label}: {value:.2f}{unit} (target {goal}): "
                   f"{'met' if ok else 'MISSED'}")

    poll_c, asy_c = med("c", "up-poll", "rps"), med("c", "py-asyncio", "rps")
    target("(c) up-poll / py-asyncio requests/s",
           poll_c / asy_c if poll_c and asy_c else None, ">= 2x",
           bool(poll_c and asy_c and poll_c >= 2 * asy_c), "x")
    fork_b, pyf_b = med("b", "up-fork", "rps"), med("b", "py-forking", "rps")
    target("(b) up-fork / py-forking requests/s",
           fork_b / pyf_b if fork_b and pyf_b else None, ">= 4x",
           bool(fork_b and pyf_b and fork_b >= 4 * pyf_b), "x")
    for m in ("up-thread", "up-poll"):
        last = med("a1000", m, "last")
        target(f"(a) 1 000 clients, {m} last reply / D",
               last / 0.5 if last else None, "<= 1.1",
               bool(last and last <= 0.55), "x D")
    last = med("d", "up-poll", "last")
    errs = sum(r["errors"] for r in (next((w["rows"].get("up-poll") for w in ws
                                           if w["id"] == "d"), None) or []))
    target("(d) C10K up-poll last reply / D, zero errors",
           last / 1.0 if last else None, "<= 1.5 with 0 errors",
           bool(last and last <= 1.5 and errs == 0), "x D")
    out += ["", "## Targets (issue 13)", ""]
    w2_h, ng2_h = med("h", "up-poll-w2", "rps"), med("h", "nginx-2w", "rps")
    target("(h) up-poll -w 2 / nginx with 2 workers, wrk requests/s",
           w2_h / ng2_h if w2_h and ng2_h else None, ">= 1x",
           bool(w2_h and ng2_h and w2_h >= ng2_h), "x")
    w2_cpu, one_cpu = med("cpu", "up-poll-w2", "last"), \
        med("cpu", "up-poll", "last")
    target("(cpu) up-poll -w 2 / up-poll, time of the last reply",
           w2_cpu / one_cpu if w2_cpu and one_cpu else None,
           "<= 0.6x on 2 free cores",
           bool(w2_cpu and one_cpu and w2_cpu <= 0.6 * one_cpu), "x")
    finish(out, args, t_start)


def finish(out, args, t_start):
    """Adds the notes and the total time, writes --out and prints it."""
    notes = os.path.join(HERE, "notes.md")
    if os.path.exists(notes):
        out += ["", open(notes).read().rstrip()]
    out.append("")
    out.append(f"Total time of this run: {time.monotonic() - t_start:.0f} s.")
    text = "\n".join(out) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print()
    print(text)



# ---- the idle-heavy scenario (issue 12) ----------------------------------

IDLE_COUNTS = (0, 1000, 8000)


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def hold_idle(port, n):
    """n connections to port that send nothing, held until closed."""
    import socket
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def reference_servers():
    """redis-server (inline PING) and memcached (version), when installed:
    (name, argv builder, request words, reply bytes)."""
    out = []
    redis = shutil.which("redis-server")
    if redis:
        # "PING" and two empty words: "PING  \n", 7 bytes, as "+PONG\r\n"
        out.append(("redis-server", lambda port: [
            redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--maxclients", "20000",
            "--tcp-backlog", "4096"], "redis"))
    mc = shutil.which("memcached")
    if mc:
        # one worker thread, as the event loop and redis have one
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        out.append(("memcached", lambda port: [
            mc, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-c", "20000",
            "-t", "1"] + user, "memcached"))
    return out


def literal_request(kind, port):
    """The words upclient --literal sends to a reference server, padded with
    spaces (which both ignore) to the length of the reply, since upclient
    takes a reply as whole when it is as long as the request."""
    import socket
    if kind == "redis":
        return ["PING", "", ""]             # "PING  \n" / "+PONG\r\n"
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"version\r\n")
    reply = b""
    while not reply.endswith(b"\r\n"):
        reply += s.recv(100)
    s.close()
    return ["version"] + [""] * (len(reply) - len("version\n"))


def run_idle(bindir, server, idle, requests):
    """50 busy persistent clients against server while idle connections
    are held open; server is ("up", backend) or (name, argv, kind)."""
    if server[0] == "up":
        # select refuses -c past FD_SETSIZE: its default is its ceiling
        conns = [] if server[1] == "select" else ["-c", "20000"]
        p = subprocess.Popen([os.path.join(bindir, "upserver-poll"), "-q",
                              "-p", "0", "-d", "0", "-t", "0",
                              "--backend", server[1]] + conns,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        m = re.search(r" listening \S*:(\d+) ", p.stdout.readline())
        if not m:
            p.kill()
            raise RuntimeError("upserver-poll did not start")
        port = int(m.group(1))
        client = ["-r", "32", "--verify"]
    else:
        port = free_port()
        p = subprocess.Popen(server[1](port), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        wait_port(p, port, server[0])
        client = ["--literal"] + literal_request(server[2], port)
    socks = []
    try:
        socks = hold_idle(port, idle)
        time.sleep(1 + idle / 4000)    # let the server accept them all
        argv = [os.path.join(bindir, "upclient"), "-p", str(port), "-s",
                "--timeout", "60s", "-c", "50", "-n", str(requests)] + client
        r = subprocess.run(argv, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=600)
    finally:
        for s in socks:
            s.close()
        stop(p)
    stats = dict(re.findall(r"^(\w+): (\S+)$", r.stderr, re.M))
    return {"ok": r.returncode == 0,
            "errors": int(stats.get("errors", 0)) + (r.returncode != 0),
            "rps": float(stats.get("requests_per_s", 0)),
            "p99": float(stats.get("latency_p99_ms", 0))}


def idle_scenario(bindir, runs, quick):
    raise_nofile()
    counts = tuple(n // 10 for n in IDLE_COUNTS) if quick else IDLE_COUNTS
    requests = 200 if quick else 4000
    servers = [("up", b) for b in poll_backends(bindir)]
    servers += [(name, argv, kind) for name, argv, kind in
                reference_servers()]

    def label(sv):
        return f"up-poll --backend {sv[1]}" if sv[0] == "up" else sv[0]

    res = {}
    for n in counts:
        for run in range(runs):
            for sv in servers:      # interleaved
                key = (label(sv), n)
                if sv[0] == "up" and sv[1] == "select" and n + 50 > 1008:
                    res[key] = None     # beyond FD_SETSIZE: refused
                    continue
                print(f"idle {n:5} run {run + 1} {label(sv):<26}", end=" ",
                      flush=True)
                try:
                    r = run_idle(bindir, sv, n, requests)
                except Exception as e:
                    print(f"failed: {e}")
                    continue
                res.setdefault(key, []).append(r)
                print(f"{r['rps']:10.0f} req/s  p99 {r['p99']:.2f} ms  "
                      f"errors {r['errors']}", flush=True)
    out = [f"## Idle connections: 50 busy persistent clients at -d 0, "
           f"{requests} requests each, while "
           f"{', '.join(f'{n:,}' for n in counts)} idle connections are "
           "held open", "",
           "Requests/s and p99 latency (ms), medians of the runs. select "
           "cannot watch descriptors past FD_SETSIZE (1024): n/a.", "",
           "| server | " + " | ".join(f"{n:,} idle: req/s, p99 ms"
                                      for n in counts) + " | errors |",
           "|---|" + "---|" * len(counts) + "---|"]
    meds = {}
    for sv in servers:
        cells, errs = [], 0
        for n in counts:
            runs_ = res.get((label(sv), n))
            if not runs_:
                cells.append("n/a")
                continue
            rps = statistics.median([r["rps"] for r in runs_])
            p99 = statistics.median([r["p99"] for r in runs_])
            meds[(label(sv), n)] = rps
            errs += sum(r["errors"] for r in runs_)
            cells.append(f"{rps:,.0f}, {p99:.2f}")
        out.append(f"| {label(sv)} | " + " | ".join(cells) + f" | {errs} |")
    out.append("")
    hi, lo = counts[-1], counts[0]
    ep = "up-poll --backend epoll"
    if (ep, hi) in meds and (ep, lo) in meds:
        ratio = meds[(ep, hi)] / meds[(ep, lo)]
        out.append(f"- epoll with {hi:,} idle / with {lo}: {ratio:.2f}x "
                   f"(target >= 0.9): {'met' if ratio >= 0.9 else 'MISSED'}")
    if ("redis-server", hi) in meds and (ep, hi) in meds:
        ratio = meds[(ep, hi)] / meds[("redis-server", hi)]
        out.append(f"- epoll / redis-server with {hi:,} idle: {ratio:.2f}x "
                   f"(target >= 1): {'met' if ratio >= 1 else 'MISSED'}")
    elif ("redis-server", hi) not in meds:
        out.append("- epoll / redis-server: not measured (no redis-server)")
    out.append("")
    return out


# ---- coroutine switches and memory per idle connection (issue 22) --------

def switch_scenario(bindir, runs):
    """Switches per second of lib/coro: bench/switch built with the
    assembly switch beside bin/, and with ucontext in the PORTABLE=1
    build beside it (make bench builds both)."""
    top = os.path.dirname(os.path.abspath(bindir))
    tools = [os.path.join(top, "bench-tools", "switch"),
             os.path.join(os.path.dirname(top), "bench-portable",
                          "bench-tools", "switch")]
    res = {}
    for run in range(runs):
        for t in tools:
            if not os.access(t, os.X_OK):
                continue
            r = subprocess.run([t, "2000000"], capture_output=True,
                               text=True, timeout=300)
            m = re.search(r"switch=(.*) switches=\d+ seconds=\S+ "
                          r"per_second=(\d+)", r.stdout)
            if not m:
                print(f"switch {t}: failed: {r.stderr.strip()}")
                continue
            print(f"switch run {run + 1} {m.group(1):<12} "
                  f"{int(m.group(2)):>12,} /s", flush=True)
            res.setdefault(m.group(1), []).append(int(m.group(2)))
    out = ["## Coroutine switches per second (bench/switch.c: two "
           "coroutines yielding to each other)", "",
           "| switch | switches/s | ns each |", "|---|---|---|"]
    for kind, v in res.items():
        med = statistics.median(v)
        out.append(f"| {kind} | {med:,.0f} | {1e9 / med:.1f} |")
    if not res:
        out.append("| (bench/switch not built: make bench builds it) "
                   "| n/a | n/a |")
    out.append("")
    return out


def tree_rss_kb(pid, key="Pss:"):
    """Memory of pid and of its children (a -w or fork server), in kB:
    their proportional set size (Pss, from smaps_rollup: a page shared
    by k processes counts 1/k in each, so a fork server's shared libc
    is not counted once per child), or with key "VmRSS:" the plain sum
    of their resident sets."""
    total = 0
    pids = [pid]
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    name = "smaps_rollup" if key == "Pss:" else "status"
    for p in pids:
        try:
            with open(f"/proc/{p}/{name}") as f:
                for line in f:
                    if line.startswith(key):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def rss_scenario(bindir, runs, n):
    """Resident memory per idle connection of every model: VmRSS of the
    server's processes before and after n connections that send nothing
    are accepted (-c n + 100, -t 0: none closed meanwhile)."""
    raise_nofile()
    models = [m for m in ("seq", "fork", "thread", "poll", "coro")
              if os.access(os.path.join(bindir, f"upserver-{m}"), os.X_OK)
              and m != "seq"]     # seq holds one connection at a time
    res, sums = {}, {}
    for run in range(runs):
        for m in models:
            argv = [os.path.join(bindir, f"upserver-{m}"), "-q", "-p", "0",
                    "-d", "0", "-t", "0", "-c", str(n + 100)]
            p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            socks = []
            try:
                port = int(re.search(r" listening \S*:(\d+) ",
                                     p.stdout.readline()).group(1))
                time.sleep(0.2)
                before = tree_rss_kb(p.pid)
                rss0 = tree_rss_kb(p.pid, "VmRSS:")
                socks = hold_idle(port, n)
                # until the server's memory stops growing: all accepted
                last, still = -1, 0
                deadline = time.monotonic() + 120
                while still < 3 and time.monotonic() < deadline:
                    time.sleep(0.2)
                    now = tree_rss_kb(p.pid)
                    still = still + 1 if now == last else 0
                    last = now
                after = tree_rss_kb(p.pid)
                per = (after - before) / n
                rss = (tree_rss_kb(p.pid, "VmRSS:") - rss0) / n
                print(f"rss run {run + 1} {m:<7} {n} idle: Pss "
                      f"{before} kB -> {after} kB, {per:.2f} kB each "
                      f"(VmRSS summed: {rss:.2f})", flush=True)
                res.setdefault(m, []).append(per)
                sums.setdefault(m, []).append(rss)
            except Exception as e:
                print(f"rss {m}: failed: {e}")
            finally:
                for sk in socks:
                    sk.close()
                stop(p)
    out = [f"## Resident memory per idle connection: {n:,} connections "
           "that send nothing, the server's processes before and after",
           "",
           "Pss counts a page shared by k processes 1/k in each (what "
           "the connections really cost); VmRSS summed counts it k times "
           "(what ps(1) would add up for a process per connection).", "",
           "| model | KiB per connection (Pss) | VmRSS summed |",
           "|---|---|---|"]
    for m in models:
        if m in res:
            out.append(f"| up-{m} | {statistics.median(res[m]):.2f} | "
                       f"{statistics.median(sums[m]):.2f} |")
    if "coro" in res:
        v = statistics.median(res["coro"])
        out.append("")
        out.append(f"- up-coro: {v:.2f} KiB each (target <= 8): "
                   f"{'met' if v <= 8 else 'MISSED'}")
    out.append("")
    return out


# ---- the streaming scenario (issue 12) -----------------------------------

def stream_scenario(bindir, runs, quick):
    """One client streams LINES pipelined lines of 100 bytes through
    upclient; the time until the last reply is in."""
    import tempfile
    lines = 100000 if quick else 1000000
    d = tempfile.mkdtemp(prefix="up-bench-stream-")
    src, want, got = (os.path.join(d, f) for f in ("in", "want", "out"))
    line = b"abcdefghij" * 9 + b"klmnopqrs\n"
    with open(src, "wb") as f:
        f.write(line * lines)
    with open(want, "wb") as f:
        f.write(line.upper() * lines)
    servers = [(f"up-{m}", [os.path.join(bindir, f"upserver-{m}")])
               for m in ("seq", "thread")]
    servers += [(f"up-poll --backend {b}",
                 [os.path.join(bindir, "upserver-poll"), "--backend", b])
                for b in poll_backends(bindir)]
    res = {}
    for run in range(runs):
        for name, argv in servers:
            p = subprocess.Popen(argv + ["-q", "-p", "0", "-d", "0"],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            m = re.search(r" listening \S*:(\d+) ", p.stdout.readline())
            try:
                with open(src, "rb") as fin, open(got, "wb") as fout:
                    t0 = time.monotonic()
                    r = subprocess.run([os.path.join(bindir, "upclient"),
                                        "-p", m.group(1)], stdin=fin,
                                       stdout=fout, timeout=600)
                    secs = time.monotonic() - t0
            finally:
                stop(p)
            same = r.returncode == 0 and subprocess.run(
                ["cmp", "-s", want, got]).returncode == 0
            print(f"stream run {run + 1} {name:<26} {secs:.3f} s "
                  f"{'same bytes' if same else 'WRONG BYTES'}", flush=True)
            res.setdefault(name, []).append((secs, same))
    shutil.rmtree(d, ignore_errors=True)
    out = [f"## Streaming: {lines:,} pipelined lines of 100 bytes through "
           "one upclient, -d 0", "",
           "| server | seconds | vs up-thread | every byte back |",
           "|---|---|---|---|"]
    thread = statistics.median([t for t, _ in res.get("up-thread", [])]
                               or [float("nan")])
    for name, _ in servers:
        runs_ = res.get(name, [])
        if not runs_:
            continue
        t = statistics.median([x for x, _ in runs_])
        out.append(f"| {name} | {fmt_med([x for x, _ in runs_], '{:.3f}')} "
                   f"| {t / thread:.2f}x | "
                   f"{'yes' if all(ok for _, ok in runs_) else 'NO'} |")
    out.append("")
    for name, _ in servers:
        if name.startswith("up-poll") and res.get(name) and thread == thread:
            t = statistics.median([x for x, _ in res[name]])
            out.append(f"- {name} / up-thread: {t / thread:.2f}x (target "
                       f"<= 1.2): {'met' if t <= 1.2 * thread else 'MISSED'}")
    return out


# ---- readiness against completion: io_uring (issue 23) --------------------

def uring_servers(bindir):
    """The contenders: coro on uring and on epoll (the same coroutine
    code), poll on epoll and on uring (readiness by poll requests); uring
    only where this build and kernel have it."""
    coro = os.path.join(bindir, "upserver-coro")
    poll = os.path.join(bindir, "upserver-poll")
    out = []
    probe = subprocess.run([coro, "--backend", "uring", "-b", "999.0.0.0",
                            "-p", "0"], capture_output=True, text=True)
    uring = "--backend: uring" not in probe.stderr
    if uring:
        out.append(("coro uring", [coro, "--backend", "uring"]))
    else:
        print("uring: " + probe.stderr.splitlines()[0], flush=True)
    if "epoll" in poll_backends(bindir):
        out.append(("coro epoll", [coro, "--backend", "epoll"]))
        out.append(("poll epoll", [poll, "--backend", "epoll"]))
    if uring:
        out.append(("poll uring", [poll, "--backend", "uring"]))
    return out


def uring_workloads(quick):
    """(id, title, upclient arguments, idle connections, stdin lines):
    requests are counted by upclient -s, or are the lines streamed."""
    k = 10 if quick else 1
    return [
        ("pp1", "ping-pong, 1 persistent client",
         ["-c", "1", "-n", str(50000 // k)], 0, 0),
        ("pp50", "ping-pong, 50 persistent clients",
         ["-c", "50", "-n", str(4000 // k)], 0, 0),
        ("pp1000", "ping-pong, 1 000 persistent clients",
         ["-c", "1000", "-n", str(200 // k)], 0, 0),
        ("idle", "50 busy clients beside 8 000 idle connections",
         ["-c", "50", "-n", str(4000 // k)], 8000 // k, 0),
        ("stream", "1 000 000 pipelined 100-byte lines, one client",
         [], 0, 1000000 // k),
        ("churn", "churn: a connection per request, 50 at a time",
         ["-c", str(20000 // k), "-j", "50", "-n", "1"], 0, 0),
    ]


def uring_run(bindir, argv, w, strace=False):
    """One workload against a server started from argv: requests/s, CPU
    microseconds per request and, with strace, system calls per request
    (strace -c -f attached to the server for the run: slow, so a run of
    its own, its rate not reported)."""
    import tempfile
    wid, _, client, idle, lines = w
    p = subprocess.Popen(argv + ["-q", "-p", "0", "-d", "0", "-t", "0",
                                 "-c", "20000"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    m = re.search(r" listening \S*:(\d+) ", p.stdout.readline())
    if not m:
        p.kill()
        raise RuntimeError(f"{argv[0]} did not start")
    port = int(m.group(1))
    tr, socks, d = None, [], tempfile.mkdtemp(prefix="up-bench-uring-")
    try:
        socks = hold_idle(port, idle)
        if idle:
            time.sleep(1 + idle / 4000)
        if strace:
            tr = subprocess.Popen(["strace", "-c", "-f", "-q", "-o",
                                   os.path.join(d, "strace"), "-p",
                                   str(p.pid)], stderr=subprocess.DEVNULL)
            time.sleep(1)       # attached to every thread
        cpu0, t0 = cpu_seconds(p.pid), time.monotonic()
        up = [os.path.join(bindir, "upclient"), "-p", str(port)]
        if lines:
            src = os.path.join(d, "in")
            line = b"abcdefghij" * 9 + b"klmnopqrs\n"
            with open(src, "wb") as f:
                f.write(line * lines)
            with open(src, "rb") as fin:
                r = subprocess.run(up, stdin=fin, capture_output=True,
                                   timeout=600)
            ok = r.returncode == 0 and r.stdout == line.upper() * lines
            requests = lines
        else:
            r = subprocess.run(up + ["-s", "--timeout", "60s", "-r", "100",
                                     "--verify"] + client,
                               capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=600)
            stats = dict(re.findall(r"^(\w+): (\S+)$", r.stderr, re.M))
            ok = r.returncode == 0
            requests = int(stats.get("requests", 0))
        secs = time.monotonic() - t0
        cpu = cpu_seconds(p.pid) - cpu0
    finally:
        for sk in socks:
            sk.close()
        if tr is not None:
            tr.send_signal(signal.SIGINT)
            tr.wait(timeout=60)
        stop(p)
    calls = None
    if tr is not None:
        with open(os.path.join(d, "strace")) as f:
            m = re.search(r"^\s*100\.00\s+\S+\s+\S+\s+(\d+)", f.read(), re.M)
        calls = int(m.group(1)) / max(requests, 1) if m else None
    shutil.rmtree(d, ignore_errors=True)
    return {"ok": ok, "rps": requests / secs if secs > 0 else 0,
            "cpu_us": cpu * 1e6 / max(requests, 1), "calls": calls}


def uring_scenario(bindir, runs, quick):
    raise_nofile()
    servers = uring_servers(bindir)
    ws = uring_workloads(quick)
    strace = shutil.which("strace")
    res = {}
    for w in ws:
        for run in range(runs):
            for name, argv in servers:      # interleaved
                print(f"uring {w[0]:<7} run {run + 1} {name:<11}", end=" ",
                      flush=True)
                try:
                    r = uring_run(bindir, argv, w)
                except Exception as e:
                    print(f"failed: {e}")
                    continue
                res.setdefault((w[0], name), []).append(r)
                print(f"{r['rps']:10.0f} req/s {r['cpu_us']:7.2f} us CPU/req"
                      f"{'' if r['ok'] else '  ERRORS'}", flush=True)
        for name, argv in servers if strace else ():
            try:
                r = uring_run(bindir, argv, w, strace=True)
            except Exception as e:
                print(f"uring {w[0]} {name} strace failed: {e}")
                continue
            res.setdefault((w[0], name, "calls"), []).append(r["calls"])
            print(f"uring {w[0]:<7} strace {name:<11} "
                  f"{r['calls'] if r['calls'] is not None else float('nan'):.2f}"
                  " system calls/req", flush=True)
    out = ["## Readiness against completion: upserver-coro on io_uring and "
           "on epoll, upserver-poll on epoll and on io_uring, -d 0", "",
           "Requests/s and server CPU microseconds per request, medians of "
           "the runs; system calls per request from one run under `strace "
           "-c -f` (the server only; its rate under strace is not shown).",
           "", "| workload | server | req/s | CPU us/req | syscalls/req | "
           "all correct |", "|---|---|---|---|---|---|"]
    for w in ws:
        for name, _ in servers:
            rs = res.get((w[0], name))
            if not rs:
                continue
            calls = [c for c in res.get((w[0], name, "calls"), [])
                     if c is not None]
            out.append(f"| {w[1]} | {name} | "
                       f"{fmt_med([r['rps'] for r in rs])} | "
                       f"{fmt_med([r['cpu_us'] for r in rs], '{:.2f}')} | "
                       f"{f'{calls[0]:.2f}' if calls else 'n/a'} | "
                       f"{'yes' if all(r['ok'] for r in rs) else 'NO'} |")
    out.append("")
    u, e = res.get(("pp50", "coro uring")), res.get(("pp50", "coro epoll"))
    if u and e:
        ratio = (statistics.median([r["cpu_us"] for r in u]) /
                 statistics.median([r["cpu_us"] for r in e]))
        out.append(f"- 50 persistent clients, uring / epoll CPU per request: "
                   f"{ratio:.2f}x (target <= 0.9): "
                   f"{'met' if ratio <= 0.9 else 'MISSED'}")
    else:
        out.append("- uring / epoll: not measured (no io_uring here)")
    out.append("")
    return out


# ---- latency by percentile at one fixed rate (issue 25) -------------------

LATENCY_RATE = 600          # requests/s over all connections
LATENCY_CONNS = 20
LATENCY_DELAY = "1ms"       # with --cpu: poll computes inline, at 60%
LATENCY_PERCENTILES = (50, 90, 99, 99.9, 99.99)


def read_hist(path):
    """{value_ms: count} from an `upclient --hist` file."""
    counts = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            value, count = line.split()[:2]
            counts[float(value)] = counts.get(float(value), 0) + int(count)
    return counts


def merged_points(counts):
    """[(value_ms, percentile)] of the merged histogram, fastest first:
    the percentiles of every request of every run, never averaged."""
    total = sum(counts.values())
    seen, points = 0, []
    for value in sorted(counts):
        seen += counts[value]
        points.append((value, 100.0 * seen / total))
    return points


def percentile_of(points, p):
    """The value of the first bucket at or above percentile p."""
    for value, q in points:
        if q >= p - 1e-9:
            return value
    return points[-1][0] if points else float("nan")


def latency_scenario(bindir, runs, quick, outdir):
    """Each model under the same open-loop load (upclient -R), latency
    from when each request was due; writes latency.json for charts.py."""
    import tempfile
    secs = 3 if quick else 10
    d = tempfile.mkdtemp(prefix="up-bench-latency-")
    models = [m for m in ("fork", "thread", "poll")
              if os.access(os.path.join(bindir, f"upserver-{m}"), os.X_OK)]
    counts = {m: {} for m in models}
    achieved = {m: [] for m in models}
    for run in range(runs):
        for m in models:         # interleaved, like the workloads
            p = subprocess.Popen([os.path.join(bindir, f"upserver-{m}"),
                                  "-q", "--cpu", "-d", LATENCY_DELAY,
                                  "-p", "0"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            port = re.search(r" listening \S*:(\d+) ",
                             p.stdout.readline()).group(1)
            hist = os.path.join(d, f"{m}.{run}")
            try:
                r = subprocess.run([os.path.join(bindir, "upclient"), "-p",
                                    port, "-c", str(LATENCY_CONNS), "-R",
                                    str(LATENCY_RATE), "-D", f"{secs}s",
                                    "-r", "16", "-s", "--hist", hist],
                                   capture_output=True, text=True,
                                   timeout=secs + 120)
            finally:
                stop(p)
            stats = dict(l.split(": ", 1) for l in r.stderr.splitlines()
                         if ": " in l and not l.startswith(("#", "upclient")))
            if r.returncode != 0:
                print(f"latency run {run + 1} up-{m}: failed: "
                      f"{r.stderr.strip()}", flush=True)
                continue
            for value, n in read_hist(hist).items():
                counts[m][value] = counts[m].get(value, 0) + n
            achieved[m].append(float(stats["rate_achieved_per_s"]))
            print(f"latency run {run + 1} up-{m:<7} p99 "
                  f"{stats['latency_p99_ms']} ms  achieved "
                  f"{stats['rate_achieved_per_s']}/s", flush=True)
    shutil.rmtree(d, ignore_errors=True)
    title = (f"Latency by percentile: open loop at {LATENCY_RATE} "
             f"requests/s over {LATENCY_CONNS} connections, --cpu -d "
             f"{LATENCY_DELAY}, {secs} s x {runs} runs")
    data = {"title": title, "rate": LATENCY_RATE, "servers": {
        f"up-{m}": merged_points(counts[m]) for m in models if counts[m]}}
    with open(os.path.join(outdir, "latency.json"), "w") as f:
        json.dump(data, f, indent=1)
    out = [f"## {title}", "",
           "`upclient -R` sends on a fixed schedule and counts each "
           "latency from when the request was due (no coordinated "
           "omission); the runs' histograms are merged, never averaged.",
           "", "| server | " + " | ".join(f"p{p:g} ms" for p in
                                          LATENCY_PERCENTILES) +
           " | max ms | achieved req/s |",
           "|---|" + "---|" * (len(LATENCY_PERCENTILES) + 2)]
    for m in models:
        pts = data["servers"].get(f"up-{m}")
        if not pts:
            continue
        out.append(f"| up-{m} | " + " | ".join(
            f"{percentile_of(pts, p):.3f}" for p in LATENCY_PERCENTILES) +
            f" | {pts[-1][0]:.3f} | {fmt_med(achieved[m], '{:.1f}')} |")
    out += ["", f"![{title}](latency.svg)", ""]
    return out


# ---- uptimeline's throughput (issue 21, item 4) ---------------------------

def timeline_log(path, kind, conns, requests=10):
    """Writes an event log of conns connections to path; returns its lines.

    "open": all accepted, then each makes `requests` requests, round after
    round, then all close: conns connections open at once. "middle": the
    same without its accepted lines, as a log read from its middle.
    "seq": one connection after another, as upserver-seq writes. Times
    are integers of microseconds, 10 us apart."""
    lines = 0
    us = 0
    peers = [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:{1024 + i % 60000}"
             for i in range(conns)]

    def line(event, peer, rest=""):
        nonlocal us, lines
        us += 10
        lines += 1
        return (f"{1722293200 + us // 1000000}.{us % 1000000:06d} {event} "
                f"{peer}{rest}\n")

    with open(path, "w") as f:
        f.write("1722293200.000000 listening 127.0.0.1:40001 model=poll "
                "pid=7\n")
        lines += 1
        if kind == "seq":
            for p in peers:
                out = [line("accepted", p)]
                for _ in range(requests):
                    out += [line("received", p, " bytes=6"),
                            line("responded", p, " bytes=6")]
                out.append(line("closed", p, f" requests={requests}"))
                f.write("".join(out))
            return lines
        if kind == "open":
            f.write("".join(line("accepted", p) for p in peers))
        for _ in range(requests):
            f.write("".join(line("received", p, " bytes=6") for p in peers))
            f.write("".join(line("responded", p, " bytes=6") for p in peers))
        f.write("".join(line("closed", p, f" requests={requests}")
                        for p in peers))
    return lines


def timeline_scenario(bindir, basedir, runs, quick):
    """uptimeline's lines per second on generated logs, the baseline's
    beside it when given: a viewer whose time grows with the square of
    its input shows it here, not in a timed test."""
    import tempfile
    conns = 1000 if quick else 10000
    d = tempfile.mkdtemp(prefix="up-bench-timeline-")
    logs = []
    for kind, n, what in (
            ("open", conns, f"{conns:,} connections open at once"),
            ("middle", conns, "the same read from its middle (no "
             "accepted lines)"),
            ("seq", 10 * conns, f"{10 * conns:,} connections one after "
             "another")):
        path = os.path.join(d, kind + ".log")
        logs.append((kind, what, path, timeline_log(path, kind, n)))
    tools = [("uptimeline", os.path.join(bindir, "uptimeline"))]
    if basedir and os.access(os.path.join(basedir, "uptimeline"), os.X_OK):
        tools.append(("base uptimeline", os.path.join(basedir,
                                                      "uptimeline")))
    res = {}
    for run in range(runs):
        for kind, _, path, lines in logs:
            for name, exe in tools:     # interleaved, as the servers
                t0 = time.monotonic()
                r = subprocess.run([exe, "-w", "100", path],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=3600)
                secs = time.monotonic() - t0
                ok = r.returncode == 0
                print(f"timeline run {run + 1} {kind:<6} {name:<16} "
                      f"{secs:.3f} s {lines / secs:12,.0f} lines/s"
                      f"{'' if ok else ' FAILED'}", flush=True)
                res.setdefault((kind, name), []).append(
                    lines / secs if ok else float("nan"))
    shutil.rmtree(d, ignore_errors=True)
    out = ["## uptimeline: lines per second", "",
           "`uptimeline -w 100` on generated logs, 10 requests per "
           "connection, to /dev/null.", "",
           "| log | lines | " + " | ".join(f"{n} lines/s" for n, _ in tools)
           + " |", "|---|---|" + "---|" * len(tools)]
    for kind, what, _, lines in logs:
        out.append(f"| {what} | {lines:,} | " + " | ".join(
            fmt_med(res[(kind, n)]) for n, _ in tools) + " |")
    out.append("")
    return out


if __name__ == "__main__":
    main()
