#!/usr/bin/python3
# anthropic_peer.py: a stand-in for the Anthropic Messages API, for the
# real Claude Code CLI in the tests.  POST /v1/messages answers as the API
# does: server-sent events (message_start, content_block_start/delta/stop,
# message_delta, message_stop) when "stream" is true, one JSON message
# otherwise; count_tokens answers a count; anything else is a 404 in the
# API's error shape.  What it says depends on the conversation:
#   the last user message holds a tool_result  -> text "wrote NAME"
#   the prompt holds WRITE-FILE NAME TEXT     -> a Bash tool_use writing it
#   otherwise -> "echo: PROMPT (turn N)", N the user prompts seen so far
# so that a resumed session shows its history.  Every request is logged
# as one JSON line on stderr.  Usage: anthropic_peer.py ADDR PORT [CERT
# KEY]; with CERT and KEY (PEM) it speaks TLS 1.2 or later, and ends each
# connection with a TLS close_notify.  Prints "ready" once it listens.
import json
import re
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
count = {"n": 0}


def texts(content):
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content
            if isinstance(b, dict) and b.get("type") == "text"]


def prompts(messages):
    """The user's own prompts: text not wrapped as a system reminder."""
    out = []
    for m in messages:
        if m.get("role") != "user":
            continue
        for t in texts(m.get("content", "")):
            if t.strip() and not t.lstrip().startswith("<system-reminder>"):
                out.append(t)
    return out


def answer(body):
    msgs = body.get("messages", [])
    last = msgs[-1] if msgs else {}
    content = last.get("content", "")
    if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result"
            for b in content):
        name = "file"
        for p in reversed(prompts(msgs)):
            m = re.search(r"WRITE-FILE (\S+) (\S+)", p)
            if m:
                name = m.group(1)
                break
        return [{"type": "text", "text": "wrote %s" % name}], "end_turn"
    ps = prompts(msgs)
    prompt = ps[-1] if ps else ""
    m = re.search(r"WRITE-FILE (\S+) (\S+)", prompt)
    if m:
        cmd = "printf '%%s' '%s' > %s" % (m.group(2), m.group(1))
        with lock:
            count["n"] += 1
            tid = "toolu_%04d" % count["n"]
        return [{"type": "tool_use", "id": tid, "name": "Bash",
                 "input": {"command": cmd,
                           "description": "write a file"}}], "tool_use"
    return [{"type": "text", "text": "echo: %s (turn %d)" %
             (prompt[:200], len(ps))}], "end_turn"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", "req_peer")
        self.end_headers()
        self.wfile.write(data)

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        sys.stderr.write(json.dumps({"method": "GET", "path": self.path})
                         + "\n")
        self.send_json(404, {"type": "error", "error": {
            "type": "not_found_error", "message": "Not found"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        path = self.path.split("?")[0]
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        sys.stderr.write(json.dumps({
            "method": "POST", "path": self.path,
            "key": self.headers.get("x-api-key"),
            "model": body.get("model"), "stream": body.get("stream"),
            "messages": len(body.get("messages", []))}) + "\n")
        sys.stderr.flush()
        if path == "/v1/messages/count_tokens":
            self.send_json(200, {"input_tokens": 42})
            return
        if path != "/v1/messages":
            self.send_json(404, {"type": "error", "error": {
                "type": "not_found_error", "message": "Not found"}})
            return
        if self.headers.get("x-api-key") != "sk-ant-sbxd-test":
            self.send_json(401, {"type": "error", "error": {
                "type": "authentication_error",
                "message": "invalid x-api-key"}})
            return
        blocks, stop = answer(body)
        model = body.get("model", "claude-sonnet-4-5")
        usage = {"input_tokens": 25, "output_tokens": 7,
                 "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0}
        if not body.get("stream"):
            self.send_json(200, {"id": "msg_peer", "type": "message",
                                 "role": "assistant", "model": model,
                                 "content": blocks, "stop_reason": stop,
                                 "stop_sequence": None, "usage": usage})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

        def ev(name, obj):
            self.wfile.write(("event: %s\ndata: %s\n\n" %
                              (name, json.dumps(obj))).encode())
            self.wfile.flush()
        ev("message_start", {"type": "message_start", "message": {
            "id": "msg_peer", "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": None,
            "stop_sequence": None,
            "usage": dict(usage, output_tokens=1)}})
        ev("ping", {"type": "ping"})
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                ev("content_block_start", {"type": "content_block_start",
                                           "index": i, "content_block": {
                                               "type": "text", "text": ""}})
                t = b["text"]
                for k in range(0, len(t), 16):
                    ev("content_block_delta", {
                        "type": "content_block_delta", "index": i,
                        "delta": {"type": "text_delta", "text": t[k:k + 16]}})
            else:
                ev("content_block_start", {"type": "content_block_start",
                                           "index": i, "content_block": {
                                               "type": "tool_use",
                                               "id": b["id"],
                                               "name": b["name"],
                                               "input": {}}})
                ev("content_block_delta", {
                    "type": "content_block_delta", "index": i,
                    "delta": {"type": "input_json_delta",
                              "partial_json": json.dumps(b["input"])}})
            ev("content_block_stop", {"type": "content_block_stop",
                                      "index": i})
        ev("message_delta", {"type": "message_delta",
                             "delta": {"stop_reason": stop,
                                       "stop_sequence": None},
                             "usage": {"output_tokens": 7}})
        ev("message_stop", {"type": "message_stop"})
        self.close_connection = True


class TLSServer(ThreadingHTTPServer):
    def shutdown_request(self, request):
        # A close_notify, so that a body ended by the close is seen whole.
        try:
            request.settimeout(1)
            request.unwrap()
        except (OSError, ValueError):
            pass
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # A failed handshake: no traceback among the JSON lines on stderr.
        pass


def main():
    tls = len(sys.argv) > 4
    srv = (TLSServer if tls else ThreadingHTTPServer)(
        (sys.argv[1], int(sys.argv[2])), Handler)
    srv.daemon_threads = True
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        # The handshake happens on the first read, in the connection's
        # thread.
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
