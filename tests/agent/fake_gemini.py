#!/usr/bin/python3
# fake_gemini.py: a stand-in for the Gemini API (generativelanguage), for the
# real gemini CLI in the tests (GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT,
# GEMINI_API_KEY=anything).  Python stdlib only; the script is the one of
# fake_openai.py beside it:
#   POST /v1beta/models/M:streamGenerateContent?alt=sse
#                              server-sent "data:" chunks of
#                              GenerateContentResponse: candidates[0].content
#                              .parts [{text}] or [{functionCall}], the last
#                              with finishReason STOP and usageMetadata
#   POST /v1beta/models/M:generateContent
#                              one GenerateContentResponse; a request asking
#                              for JSON (responseMimeType application/json,
#                              as the CLI's helper calls do) gets an object
#                              built from its schema (an enum holding "user"
#                              answers "user")
#   POST /v1beta/models/M:countTokens   {"totalTokens": 42}
#   GET  /v1beta/models                 a one-model list
# What it says depends on the last user text part of "contents":
#   a functionResponse after it       -> text "wrote NAME"
#   it holds WRITE-FILE NAME TEXT     -> a functionCall of the shell tool the
#                                        request declares (run_shell_command)
#   it holds HTTP-ERROR NNN           -> HTTP status NNN, Google error body
#   it holds SLOW                     -> text "tick N " every 0.5 s for 60 s
#   otherwise                         -> text "echo: PROMPT[:200]"
# Every request is logged as one JSON line on stderr; with --dump DIR each
# request body is also saved as DIR/NNN.json.
# Usage: fake_gemini.py [--host 127.0.0.1] [--port 0] [--dump DIR]
#        [--fail NNN]
# The first line on stdout is the port it listens on.
import argparse
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_openai import (fill, http_error, log, next_id,  # noqa: E402
                         parse_write, pick_tool, state, write_command)

MODEL = "gemini-2.5-pro"
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED",
          403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def lower_schema(s):
    """Gemini schemas may spell types in capitals (OBJECT, STRING)."""
    if isinstance(s, dict):
        out = {}
        for k, v in s.items():
            if k == "type" and isinstance(v, str):
                out[k] = v.lower()
            else:
                out[k] = lower_schema(v)
        return out
    if isinstance(s, list):
        return [lower_schema(x) for x in s]
    return s


def schema_value(s):
    """A value for a response schema (the CLI's JSON helper calls)."""
    s = s or {}
    t = s.get("type")
    if "enum" in s and s["enum"]:
        return "user" if "user" in s["enum"] else s["enum"][0]
    if t == "object":
        return {k: schema_value(v)
                for k, v in (s.get("properties") or {}).items()}
    if t == "array":
        return []
    if t in ("integer", "number"):
        return 1
    if t == "boolean":
        return False
    return "fake reasoning"


def part_texts(content):
    """The last non-empty text part: the CLI sends its session context and
    the prompt as two text parts of one user turn."""
    ts = [p.get("text", "") for p in content.get("parts", [])
          if isinstance(p, dict) and isinstance(p.get("text"), str)
          and p["text"].strip() and not p.get("thought")]
    return ts[-1] if ts else ""


def answer(body):
    """(prompt, kind, payload): ("text", str) or ("call", (name, args))."""
    contents = body.get("contents", [])
    last = -1
    for i, c in enumerate(contents):
        if c.get("role", "user") == "user" and part_texts(c).strip():
            last = i
    prompt = part_texts(contents[last]) if last >= 0 else ""
    after = contents[last + 1:] if last >= 0 else []
    if any("functionResponse" in p for c in after
           for p in c.get("parts", []) if isinstance(p, dict)):
        w = parse_write(prompt)
        return prompt, "text", "wrote %s" % (w[0] if w else "file")
    if parse_write(prompt):
        tools = []
        for t in body.get("tools", []) or []:
            for f in t.get("functionDeclarations", []) or []:
                schema = f.get("parametersJsonSchema") or f.get("parameters")
                tools.append((f.get("name"), lower_schema(schema or {})))
        name, schema = pick_tool(tools)
        if name:
            return prompt, "call", (name, fill(schema,
                                               write_command(prompt)))
    return prompt, "text", "echo: %s" % prompt[:200]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_status(self, code):
        msg = ("API key not valid. Please pass a valid API key."
               if code == 401 else "Internal error encountered.")
        self.send_json(code, {"error": {"code": code, "message": msg,
                                        "status": STATUS.get(code,
                                                             "UNKNOWN")}})

    def do_GET(self):
        log({"method": "GET", "path": self.path})
        if self.path.split("?")[0].rstrip("/").endswith("/models"):
            self.send_json(200, {"models": [{
                "name": "models/" + MODEL, "displayName": "Fake",
                "supportedGenerationMethods": ["generateContent",
                                               "streamGenerateContent",
                                               "countTokens"]}]})
            return
        self.send_json(404, {"error": {"code": 404, "message": "Not found",
                                       "status": "NOT_FOUND"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        k = next_id()
        if state["dump"]:
            with open(os.path.join(state["dump"], "%03d.json" % k),
                      "wb") as f:
                f.write(raw)
        path = self.path.split("?")[0]
        model, _, method = path.rsplit("/", 1)[-1].partition(":")
        decls = [f.get("name") for t in body.get("tools", []) or []
                 for f in t.get("functionDeclarations", []) or []]
        gc = body.get("generationConfig") or {}
        log({"n": k, "method": "POST", "path": self.path,
             "key": (self.headers.get("x-goog-api-key") or "")[:8],
             "contents": len(body.get("contents", [])),
             "tools": decls, "json": gc.get("responseMimeType")})
        if method == "countTokens":
            self.send_json(200, {"totalTokens": 42})
            return
        if method not in ("generateContent", "streamGenerateContent"):
            self.send_json(404, {"error": {"code": 404,
                                           "message": "Not found",
                                           "status": "NOT_FOUND"}})
            return
        prompt, kind, payload = answer(body)
        code = http_error(prompt)
        if code:
            self.send_error_status(code)
            return
        if gc.get("responseMimeType") == "application/json":
            schema = lower_schema(gc.get("responseJsonSchema")
                                  or gc.get("responseSchema") or {})
            kind, payload = "text", json.dumps(schema_value(schema))
        usage = {"promptTokenCount": 120, "candidatesTokenCount": 9,
                 "totalTokenCount": 129}
        rid = "fakeresp%04d" % k

        def resp(parts, finish=None, with_usage=False):
            cand = {"content": {"role": "model", "parts": parts},
                    "index": 0}
            if finish:
                cand["finishReason"] = finish
            r = {"candidates": [cand], "modelVersion": model or MODEL,
                 "responseId": rid}
            if with_usage:
                r["usageMetadata"] = usage
            return r
        if kind == "call":
            parts = [{"functionCall": {"name": payload[0],
                                       "args": payload[1]}}]
        else:
            parts = [{"text": payload}]
        if method == "generateContent":
            self.send_json(200, resp(parts, "STOP", True))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def sse(obj):
            self.wfile.write(("data: %s\r\n\r\n" % json.dumps(obj)).encode())
            self.wfile.flush()
        try:
            if kind == "call":
                sse(resp(parts, "STOP", True))
                return
            if "SLOW" in prompt and payload.startswith("echo"):
                chunks = ["tick %d " % i for i in range(120)]
            else:
                chunks = [payload[i:i + 16]
                          for i in range(0, len(payload), 16)]
            for i, c in enumerate(chunks):
                last = i == len(chunks) - 1
                sse(resp([{"text": c}], "STOP" if last else None, last))
                if "SLOW" in prompt:
                    time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            log({"n": k, "aborted": True})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dump")
    ap.add_argument("--fail", type=int, default=0)
    a = ap.parse_args()
    state["dump"], state["fail"] = a.dump, a.fail
    if a.dump:
        os.makedirs(a.dump, exist_ok=True)
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
