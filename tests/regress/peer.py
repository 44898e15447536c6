#!/usr/bin/env python3
# peer.py: the servers the integration tests talk to through sbxd.
#
#   peer.py http ADDR PORT            HTTP/1.1 origin server
#   peer.py tls ADDR PORT CERT KEY    the same over TLS
#   peer.py echo ADDR PORT            TCP echo
#   peer.py pairs ADDR PORT           TCP: each two bytes read are sent
#                                     back as two writes 5 ms apart
#   peer.py dns ADDR PORT             a nameserver that knows no name
#
# It prints "ready" once listening.  The HTTP server answers:
#   GET  /bytes/N     N bytes of a fixed pattern
#   POST /count       the number of body bytes and their sha256
#   GET  /headers     the request head it received, as text
#   GET  /close       a body delimited by closing the connection
#   GET  /peer        the address:port the request came from
#   anything else     "hello\n"
import hashlib
import http.server
import socket
import socketserver
import ssl
import sys
import threading
import time


def pattern(n):
    block = bytes(range(256)) * 256
    out = bytearray()
    while len(out) < n:
        out += block[: n - len(out)]
    return bytes(out)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go in two writes: neither waits for an ACK.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def send_body(self, body, ctype="application/octet-stream"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/bytes/"):
            self.send_body(pattern(int(self.path[7:])))
        elif self.path == "/headers":
            head = "%s\r\n%s" % (self.requestline, self.headers)
            self.send_body(head.encode(), "text/plain")
        elif self.path == "/peer":
            self.send_body(("%s:%d\n" % self.client_address[:2]).encode(),
                           "text/plain")
        elif self.path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until close\n")
            self.close_connection = True
        else:
            self.send_body(b"hello\n", "text/plain")

    do_HEAD = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_POST(self):
        body = self.read_body()
        text = "%d %s\n" % (len(body), hashlib.sha256(body).hexdigest())
        self.send_body(text.encode(), "text/plain")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def tcp_serve(addr, port, handle):
    """Accept on addr:port, each connection in a thread of its own."""
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(2048)
    print("ready", flush=True)

    def one(c):
        try:
            handle(c)
        except OSError:
            pass
        c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def echo(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)


def pairs(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while True:
        d = c.recv(64)
        if not d:
            break
        buf += d
        while len(buf) >= 2:
            c.sendall(buf[:1])
            time.sleep(0.005)
            c.sendall(buf[1:2])
            buf = buf[2:]


def dns(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    while True:
        q, peer = s.recvfrom(4096)
        if len(q) < 12:
            continue
        # Same id and question; QR, RD, RA set; RCODE 3 (NXDOMAIN).
        s.sendto(q[:2] + bytes([0x81, 0x83]) + q[4:6] + b"\0\0\0\0\0\0" +
                 q[12:], peer)


def main():
    kind, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind in ("echo", "pairs"):
        tcp_serve(addr, port, echo if kind == "echo" else pairs)
        return
    if kind == "dns":
        dns(addr, port)
        return
    if ":" in addr:
        Server.address_family = socket.AF_INET6
    srv = Server((addr, port), Handler)
    if kind == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
