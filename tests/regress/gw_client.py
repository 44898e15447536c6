#!/usr/bin/python3
# gw_client.py: HTTP/1.1 edge cases against a sandbox's credential
# gateway, run as the sandbox's user in its environment (the base URLs
# and phantom keys come from ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY,
# OPENAI_BASE_URL and OPENAI_API_KEY).  Raw sockets, so that each case
# sends exactly the bytes it means: keep-alive, a chunked request body,
# Expect: 100-continue, an HTTP/1.0 client, pipelining, a body over the
# limit, a malformed head, a WebSocket upgrade, a client that leaves
# mid-stream.  Prints "ok CASE" per case; any failure raises.
import json
import os
import socket
import sys
import time
from urllib.parse import urlsplit

ABASE = urlsplit(os.environ["ANTHROPIC_BASE_URL"])
AKEY = os.environ["ANTHROPIC_API_KEY"]
HOST, PORT = ABASE.hostname, ABASE.port


def conn():
    s = socket.create_connection((HOST, PORT), timeout=30)
    return s


def body(prompt, stream=False, max_tokens=20):
    return json.dumps({"model": "claude-x", "max_tokens": max_tokens,
                       "stream": stream, "messages": [
                           {"role": "user", "content": prompt}]}).encode()


def head(path, extra=b"", length=None, version=b"HTTP/1.1"):
    h = (b"POST " + path.encode() + b" " + version + b"\r\n"
         b"Host: " + HOST.encode() + b"\r\n"
         b"x-api-key: " + AKEY.encode() + b"\r\n"
         b"anthropic-version: 2023-06-01\r\n"
         b"content-type: application/json\r\n")
    if length is not None:
        h += b"Content-Length: " + str(length).encode() + b"\r\n"
    return h + extra + b"\r\n"


class Reader:
    def __init__(self, s):
        self.s = s
        self.buf = b""

    def more(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("closed")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.more()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def take(self, n):
        while len(self.buf) < n:
            self.more()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def response(self, until_close=False):
        status = self.line()
        code = int(status.split()[1])
        hdrs = {}
        while True:
            ln = self.line()
            if not ln:
                break
            k, v = ln.split(b":", 1)
            hdrs[k.strip().lower().decode()] = v.strip().decode()
        if code == 100:
            return code, hdrs, None
        if "content-length" in hdrs:
            return code, hdrs, self.take(int(hdrs["content-length"]))
        if hdrs.get("transfer-encoding") == "chunked":
            out = b""
            while True:
                n = int(self.line().split(b";")[0], 16)
                if n == 0:
                    self.line()
                    return code, hdrs, out
                out += self.take(n)
                assert self.take(2) == b"\r\n"
        if until_close:
            try:
                while True:
                    self.more()
            except EOFError:
                pass
            out, self.buf = self.buf, b""
            return code, hdrs, out
        return code, hdrs, b""


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


path = ABASE.path + "/v1/messages"

# Keep-alive: three requests, one connection.
s = conn()
r = Reader(s)
for i in range(3):
    b = body("keep alive %d" % i)
    s.sendall(head(path, length=len(b)) + b)
    code, h, data = r.response()
    check(code == 200 and b"echo: keep alive %d" % i in data,
          "keep-alive %d: %d %r" % (i, code, data[:200]))
s.close()
print("ok keep-alive")

# Pipelined: two requests in one write, two answers in order.
s = conn()
r = Reader(s)
b1, b2 = body("first in line"), body("second in line")
s.sendall(head(path, length=len(b1)) + b1 + head(path, length=len(b2)) + b2)
c1, _, d1 = r.response()
c2, _, d2 = r.response()
check(c1 == 200 and b"first in line" in d1, "pipelined 1")
check(c2 == 200 and b"second in line" in d2, "pipelined 2")
s.close()
print("ok pipelined")

# A chunked request body, in odd pieces.
s = conn()
r = Reader(s)
b = body("chunked body words here")
s.sendall(head(path, b"Transfer-Encoding: chunked\r\n"))
for i in range(0, len(b), 7):
    piece = b[i:i + 7]
    s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
s.sendall(b"0\r\n\r\n")
code, h, data = r.response()
check(code == 200 and b"chunked body words here" in data,
      "chunked request: %d %r" % (code, data[:200]))
s.close()
print("ok chunked-request")

# Expect: 100-continue: the 100 first, then the answer.
s = conn()
r = Reader(s)
b = body("expect continue")
s.sendall(head(path, b"Expect: 100-continue\r\n", len(b)))
code, h, _ = r.response()
check(code == 100, "no 100 Continue: %d" % code)
s.sendall(b)
code, h, data = r.response()
check(code == 200 and b"expect continue" in data, "after 100: %d" % code)
s.close()
print("ok expect-100")

# An HTTP/1.0 client: the answer ends with the connection.
s = conn()
r = Reader(s)
b = body("old client", stream=True)
s.sendall(head(path, length=len(b), version=b"HTTP/1.0") + b)
code, h, data = r.response(until_close=True)
check(code == 200 and b"message_stop" in data and
      "transfer-encoding" not in h, "HTTP/1.0: %d %r %r" % (code, h, data[-80:]))
s.close()
print("ok http10")

# Too large a body: 413 before any of it is sent.
s = conn()
r = Reader(s)
s.sendall(head(path, length=40 * 1024 * 1024))
code, h, data = r.response()
check(code == 413 and h.get("x-sbxd-error") == "body-too-large",
      "413: %d %r" % (code, h))
s.close()
print("ok too-large")

# A malformed head.
s = conn()
r = Reader(s)
s.sendall(b"POST /anthropic/v1/messages HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n")
code, h, data = r.response()
check(code == 400, "malformed: %d" % code)
s.close()
print("ok malformed")

# A proxy request, absolute-form: not served.
s = conn()
r = Reader(s)
s.sendall(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
code, h, data = r.response()
check(code == 400, "absolute-form: %d" % code)
s.close()
print("ok absolute-form")

# A WebSocket upgrade (Codex tries one first): 404 at once.
s = conn()
r = Reader(s)
obase = urlsplit(os.environ["OPENAI_BASE_URL"])
s.sendall(b"GET " + obase.path.encode() + b"/responses HTTP/1.1\r\n"
          b"Host: x\r\nAuthorization: Bearer " +
          os.environ["OPENAI_API_KEY"].encode() + b"\r\n"
          b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
          b"Sec-WebSocket-Version: 13\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
code, h, data = r.response()
check(code == 404 and h.get("x-sbxd-error") == "websocket",
      "websocket: %d %r" % (code, h))
s.close()
print("ok websocket")

# A client that leaves mid-stream: the gateway notices and goes on.
s = conn()
r = Reader(s)
b = body("BIG-OUTPUT 20000000", stream=True)
s.sendall(head(path, length=len(b)) + b)
r.line()
time.sleep(0.3)
s.close()
time.sleep(0.5)
s = conn()
r = Reader(s)
b = body("after a leaver")
s.sendall(head(path, length=len(b)) + b)
code, h, data = r.response()
check(code == 200 and b"after a leaver" in data, "after the leaver")
s.close()
print("ok leaver")
