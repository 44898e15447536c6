#!/usr/bin/env python3
# ask_client.py: the servers and the client of proxy_ask.sh, which must
# know when the upstream saw a request, and hold many tunnels at once.
#
#   ask_client.py upstream ADDR PORT LOG   HTTP/1.1 origin server; each
#                                          request is a line of LOG:
#                                          "TIME METHOD PATH LENGTH SHA256"
#                                          (TIME: seconds since the epoch)
#   ask_client.py echo ADDR PORT LOG       TCP echo; each connection is a
#                                          line of LOG: "TIME accept"
#   ask_client.py connect PROXY HOST:PORT N
#                                          N CONNECTs at once through PROXY
#                                          (ADDR:PORT); waits up to 20 s
#                                          for the answers; through each
#                                          200 tunnel, sends a line and
#                                          reads it back.  Prints "sent N"
#                                          once every CONNECT is written,
#                                          then a line per connection,
#                                          "I STATUS echo|noecho|-", and
#                                          "done".
#
# The servers print "ready" once listening.  The upstream answers a GET
# with "upstream PATH\n" and a POST with "LENGTH SHA256\n" of its body.
import hashlib
import http.server
import select
import socket
import socketserver
import sys
import threading
import time

LOCK = threading.Lock()


def log(path, text):
    with LOCK:
        with open(path, "a") as f:
            f.write("%.6f %s\n" % (time.time(), text))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    logfile = None

    def log_message(self, *args):
        pass

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        log(self.logfile, "%s %s 0 -" % (self.command, self.path))
        self.answer(("upstream %s\n" % self.path).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        sha = hashlib.sha256(body).hexdigest()
        log(self.logfile, "%s %s %d %s" % (self.command, self.path,
                                           len(body), sha))
        self.answer(("%d %s\n" % (len(body), sha)).encode())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def upstream(addr, port, logfile):
    Handler.logfile = logfile
    open(logfile, "a").close()
    srv = Server((addr, port), Handler)
    print("ready", flush=True)
    srv.serve_forever()


def echo(addr, port, logfile):
    open(logfile, "a").close()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1024)
    print("ready", flush=True)

    def one(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    while True:
        c, _ = s.accept()
        log(logfile, "accept")
        threading.Thread(target=one, args=(c,), daemon=True).start()


def connect(proxy, target, n):
    paddr, pport = proxy.rsplit(":", 1)
    socks = []
    for i in range(n):
        s = socket.create_connection((paddr, int(pport)), timeout=10)
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                   (target, target)).encode())
        s.setblocking(False)
        socks.append(s)
    print("sent %d" % n, flush=True)
    heads = {s: b"" for s in socks}
    status = {}
    end = time.time() + 20
    while len(status) < n and time.time() < end:
        waiting = [s for s in socks if s not in status]
        r, _, _ = select.select(waiting, [], [], 0.5)
        for s in r:
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            heads[s] += d
            if b"\r\n\r\n" in heads[s]:
                line = heads[s].split(b"\r\n", 1)[0].decode("latin-1")
                parts = line.split(" ", 2)
                status[s] = parts[1] if len(parts) > 1 else "bad"
            elif not d:
                status[s] = "closed"
    for i, s in enumerate(socks):
        st = status.get(s, "timeout")
        result = "-"
        if st == "200":
            msg = ("tunnel %d says hello\n" % i).encode()
            try:
                s.setblocking(True)
                s.settimeout(5)
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    d = s.recv(4096)
                    if not d:
                        break
                    got += d
                result = "echo" if got == msg else "noecho"
            except OSError:
                result = "noecho"
        print("%d %s %s" % (i, st, result), flush=True)
        s.close()
    print("done", flush=True)


def main():
    kind = sys.argv[1]
    if kind == "upstream":
        upstream(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif kind == "echo":
        echo(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif kind == "connect":
        connect(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("ask_client.py: unknown kind %s" % kind)


if __name__ == "__main__":
    main()
