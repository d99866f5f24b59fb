#!/usr/bin/env python3
"""tty-client.py: runs a command as a person at a terminal would.

usage: tty-client.py OUT LINE REPLY -- COMMAND [ARG...]

Runs COMMAND with its standard input and standard error on a new
pseudo-terminal and its standard output into the file OUT. Types LINE
and Enter once the terminal shows a "> " prompt (or after 10 seconds
without one), waits until OUT holds REPLY, then types Ctrl-D. Writes what
the terminal showed (standard error and the echo of what was typed) to
standard output, and exits with COMMAND's status, or 124 when a step
takes more than 20 seconds.
"""
import os
import select
import subprocess
import sys
import time

DEADLINE = 20.0
PROMPT_WAIT = 10.0


def drain(master, shown, seconds):
    """Reads what the terminal shows for up to seconds: True when it read
    some, None when nothing came, False at the terminal's end."""
    r, _, _ = select.select([master], [], [], seconds)
    if not r:
        return None
    try:
        data = os.read(master, 4096)
    except OSError:  # EIO: every other end of the terminal is closed
        return False
    if not data:
        return False
    shown.extend(data)
    return True


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        sys.exit(__doc__)
    out, line, reply, command = sys.argv[1], sys.argv[2], sys.argv[3], \
        sys.argv[5:]
    master, slave = os.openpty()
    with open(out, "wb") as f:
        proc = subprocess.Popen(command, stdin=slave, stdout=f,
                                stderr=slave, close_fds=True)
    os.close(slave)
    shown = bytearray()
    status = 124
    try:
        # Types once the prompt shows, as a person would (or after
        # PROMPT_WAIT seconds without one).
        end = time.monotonic() + PROMPT_WAIT
        while time.monotonic() < end and b"> " not in shown:
            drain(master, shown, 0.1)
        os.write(master, line.encode() + b"\n")
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            with open(out, "rb") as f:
                if reply.encode() in f.read():
                    break
            drain(master, shown, 0.1)
        else:
            raise TimeoutError
        drain(master, shown, 0.2)
        os.write(master, b"\x04")
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end and proc.poll() is None:
            drain(master, shown, 0.1)
        if proc.poll() is not None:
            status = proc.returncode
            while drain(master, shown, 0.2) is True:
                pass
    except TimeoutError:
        pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    sys.stdout.write(shown.decode(errors="replace"))
    sys.exit(status)


if __name__ == "__main__":
    main()
