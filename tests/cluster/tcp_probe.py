#!/usr/bin/python3
"""tcp_probe.py: tiny TCP tools for the cluster harness self-test (cluster_harness.sh).

  tcp_probe.py serve PORT COUNT         answer COUNT connections: reply "<hostname> <line>" to the
                                        first line received, then close; bulk data is read and
                                        counted (reply "<hostname> got N bytes")
  tcp_probe.py ask HOST PORT WORD [S]   connect to HOST (a name, resolved by /etc/hosts), send
                                        WORD, print the reply; give up after S seconds (3)
  tcp_probe.py bulk HOST PORT BYTES [S] send BYTES bytes, print the reply and the seconds the
                                        transfer took (for the rate limiter smoke test)
Exit status 0 on success, 1 on any socket error or timeout (printed on stderr).
"""
import socket
import sys
import time


def serve(port, count):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(8)
    print("listening", flush=True)
    for _ in range(count):
        conn, _addr = srv.accept()
        with conn:
            head = conn.recv(64)
            if head.startswith(b"BULK "):
                want = int(head.split()[1])
                got = len(head) - len(head.split(b"\n", 1)[0]) - 1
                while got < want:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    got += len(chunk)
                conn.sendall(f"{socket.gethostname()} got {got} bytes\n".encode())
            else:
                word = head.decode().strip()
                conn.sendall(f"{socket.gethostname()} {word}\n".encode())


def connect(host, port, timeout):
    return socket.create_connection((host, port), timeout=timeout)


def ask(host, port, word, timeout):
    with connect(host, port, timeout) as conn:
        conn.sendall(word.encode() + b"\n")
        print(conn.recv(256).decode().strip())


def bulk(host, port, nbytes, timeout):
    start = time.monotonic()
    with connect(host, port, timeout) as conn:
        conn.sendall(f"BULK {nbytes}\n".encode())
        block = b"x" * 65536
        left = nbytes
        while left > 0:
            conn.sendall(block[: min(left, len(block))])
            left -= min(left, len(block))
        reply = conn.recv(256).decode().strip()
    print(f"{reply} in {time.monotonic() - start:.2f} s")


def main(argv):
    try:
        if argv[1] == "serve":
            serve(int(argv[2]), int(argv[3]))
        elif argv[1] == "ask":
            ask(argv[2], int(argv[3]), argv[4], float(argv[5]) if len(argv) > 5 else 3.0)
        elif argv[1] == "bulk":
            bulk(argv[2], int(argv[3]), int(argv[4]), float(argv[5]) if len(argv) > 5 else 30.0)
        else:
            raise SystemExit(f"unknown mode {argv[1]}")
    except OSError as err:
        print(f"tcp_probe.py {' '.join(argv[1:])}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
