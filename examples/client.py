"""client.py: the tutorials' client, as they write it.

Connects to the server, asks for a string, sends it as typed (no
newline), waits in one recv(1024) without closing its side, prints what
came back and closes. The port is the tutorials' 40001, or the first
argument: python3 examples/client.py [PORT]. examples/tmux-five.sh
--client 'python3 examples/client.py' runs it in each client pane.
"""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 40001
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.connect(("127.0.0.1", port))
    data = input("> ")
    s.sendall(data.encode())
    data = s.recv(1024)
    print(data.decode())
