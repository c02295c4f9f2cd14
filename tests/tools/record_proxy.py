#!/usr/bin/env python3
"""TCP recording proxy (stdlib only) for capturing byte-exact RTMP sessions.

Listens on LISTEN_HOST:PORT, forwards every accepted connection to TARGET_HOST:TARGET_PORT
and writes the raw bytes of each direction to files:

    <prefix>.c2s.bin   client -> server
    <prefix>.s2c.bin   server -> client

With more than one connection (--count > 1) the files of connection i (1-based) after the
first are named <prefix>.<i>.c2s.bin / <prefix>.<i>.s2c.bin.

Exits after --count connections have been accepted and closed, on SIGTERM/SIGINT, or after
--timeout seconds; files are flushed and closed either way. Prints "listening HOST:PORT" on
stdout once the socket is bound, so a caller can wait for that line. --port 0 picks a free port.

Example:
    record_proxy.py --port 19360 --target 127.0.0.1:19350 --prefix tests/fixtures/x --count 1
"""

import argparse
import os
import selectors
import signal
import socket
import sys
import time


def parse_hostport(s):
    host, _, port = s.rpartition(":")
    return (host or "127.0.0.1"), int(port)


class Conn:
    """One proxied connection: client socket, upstream socket, two output files."""

    def __init__(self, client, upstream, prefix, verbose):
        self.sock = {"c": client, "s": upstream}
        self.files = {
            "c": open(prefix + ".c2s.bin", "wb"),  # bytes read from the client
            "s": open(prefix + ".s2c.bin", "wb"),  # bytes read from the server
        }
        self.pending = {"c": b"", "s": b""}  # bytes waiting to be written TO this side
        self.eof = {"c": False, "s": False}  # this side sent FIN
        self.shut = {"c": False, "s": False}  # we sent FIN to this side
        self.counts = {"c": 0, "s": 0}
        self.prefix = prefix
        self.verbose = verbose
        self.closed = False
        self.registered = set()
        for s in self.sock.values():
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @staticmethod
    def other(side):
        return "s" if side == "c" else "c"

    def on_readable(self, side):
        try:
            data = self.sock[side].recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.eof[side] = True
            return
        self.files[side].write(data)
        self.counts[side] += len(data)
        self.pending[self.other(side)] += data

    def on_writable(self, side):
        buf = self.pending[side]
        if not buf:
            return
        try:
            n = self.sock[side].send(buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # Peer gone: drop what it will never receive, and stop reading its partner.
            self.pending[side] = b""
            self.eof[side] = True
            self.eof[self.other(side)] = True
            return
        self.pending[side] = buf[n:]

    def update(self):
        """Propagate half-closes; return True when both directions are finished."""
        for side in ("c", "s"):
            dst = self.other(side)
            if self.eof[side] and not self.pending[dst] and not self.shut[dst]:
                try:
                    self.sock[dst].shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                self.shut[dst] = True
        return self.shut["c"] and self.shut["s"]

    def interest(self, side):
        ev = 0
        if not self.eof[side] and len(self.pending[self.other(side)]) < (1 << 20):
            ev |= selectors.EVENT_READ
        if self.pending[side]:
            ev |= selectors.EVENT_WRITE
        return ev

    def close(self):
        if self.closed:
            return
        self.closed = True
        for f in self.files.values():
            f.flush()
            os.fsync(f.fileno())
            f.close()
        for s in self.sock.values():
            try:
                s.close()
            except OSError:
                pass
        if self.verbose:
            print(
                "closed %s: c2s %d bytes, s2c %d bytes"
                % (self.prefix, self.counts["c"], self.counts["s"]),
                file=sys.stderr,
                flush=True,
            )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True, help="port to listen on (0 = any free)")
    ap.add_argument("--target", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--prefix", required=True, help="output path prefix")
    ap.add_argument("--count", type=int, default=1, help="exit after N connections (0 = never)")
    ap.add_argument("--timeout", type=float, default=0, help="exit after this many seconds (0 = never)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    target = parse_hostport(args.target)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.listen_host, args.port))
    lsock.listen(16)
    lsock.setblocking(False)
    print("listening %s:%d" % lsock.getsockname()[:2], flush=True)

    stop = []

    def on_signal(signum, _frame):
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    conns = []
    accepted = 0
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None

    try:
        while not stop:
            if deadline is not None and time.monotonic() >= deadline:
                break
            if args.count and accepted >= args.count and all(c.closed for c in conns):
                break
            for key, mask in sel.select(timeout=0.2):
                if key.data is None:
                    try:
                        client, _ = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    if args.count and accepted >= args.count:
                        client.close()
                        continue
                    accepted += 1
                    try:
                        upstream = socket.create_connection(target, timeout=5)
                    except OSError as e:
                        print("connect to %s:%d failed: %s" % (target + (e,)), file=sys.stderr)
                        client.close()
                        continue
                    prefix = args.prefix if accepted == 1 else "%s.%d" % (args.prefix, accepted)
                    c = Conn(client, upstream, prefix, args.verbose)
                    conns.append(c)
                    for side in ("c", "s"):
                        sel.register(c.sock[side], selectors.EVENT_READ, (c, side))
                        c.registered.add(c.sock[side])
                    if accepted >= args.count > 0:
                        sel.unregister(lsock)
                        lsock.close()
                    continue
                c, side = key.data
                if mask & selectors.EVENT_READ:
                    c.on_readable(side)
                if mask & selectors.EVENT_WRITE:
                    c.on_writable(side)
            # Re-arm interests, retire finished connections.
            for c in conns:
                if c.closed:
                    continue
                if c.update():
                    for sock in c.registered:
                        sel.unregister(sock)
                    c.registered.clear()
                    c.close()
                    continue
                for side in ("c", "s"):
                    sock = c.sock[side]
                    ev = c.interest(side)
                    registered = sock in c.registered
                    if ev == 0:
                        # EOF read and nothing to write: an EOF socket would stay readable
                        # forever, so stop watching it.
                        if registered:
                            sel.unregister(sock)
                            c.registered.discard(sock)
                    elif not registered:
                        sel.register(sock, ev, (c, side))
                        c.registered.add(sock)
                    elif sel.get_key(sock).events != ev:
                        sel.modify(sock, ev, (c, side))
    finally:
        for c in conns:
            c.close()
        try:
            lsock.close()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
