#!/usr/bin/python3
# fake_openai.py: a stand-in for the OpenAI API, for the real codex and
# opencode CLIs in the tests.  Python stdlib only.
#   POST /v1/responses         Responses API (what codex speaks): server-sent
#                              events response.created, output_item.added,
#                              output_text.delta/done, function_call_arguments
#                              .delta/done, output_item.done, response.completed
#                              (response.failed never: errors are HTTP errors)
#   POST /v1/chat/completions  Chat Completions (what opencode speaks through
#                              @ai-sdk/openai-compatible): "data:" chunks,
#                              a usage chunk when stream_options.include_usage,
#                              then "data: [DONE]"; one JSON object when not
#                              streaming
#   GET  /v1/models            a one-model list
# What it says depends on the last user message of the conversation:
#   a tool result after it            -> text "wrote NAME"
#   it holds WRITE-FILE NAME TEXT     -> a call of the shell tool the request
#                                        offers (exec_command, shell_command,
#                                        shell, bash, ...: its arguments are
#                                        built from the tool's JSON schema),
#                                        running printf %s TEXT > NAME; when
#                                        the only way to a shell is codex's
#                                        code-mode "exec" (a freeform tool,
#                                        offered in an additional_tools input
#                                        item), a custom_tool_call of it with
#                                        JavaScript calling
#                                        tools.exec_command({cmd})
#   it holds HTTP-ERROR NNN           -> HTTP status NNN, OpenAI error body
#   it holds SLOW                     -> text "tick N " every 0.5 s for 60 s
#   otherwise                         -> text "echo: PROMPT[:200]"
# Every request is logged as one JSON line on stderr; with --dump DIR each
# request body is also saved as DIR/NNN.json.
# Usage: fake_openai.py [--host 127.0.0.1] [--port 0] [--dump DIR]
#        [--fail NNN]  (every model request answers HTTP NNN)
#        [--tls CERT KEY]  (HTTPS, TLS 1.2 or later, ALPN http/1.1)
# The first line on stdout is the port it listens on.
import argparse
import json
import os
import re
import shlex
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"n": 0, "dump": None, "fail": 0}
MODEL = "fake-model"
SHELL_TOOLS = ("exec_command", "shell_command", "shell", "bash",
               "run_shell_command", "local_shell", "container.exec")


def next_id():
    with lock:
        state["n"] += 1
        return state["n"]


def log(obj):
    with lock:
        sys.stderr.write(json.dumps(obj) + "\n")
        sys.stderr.flush()


# ---- the script, shared with fake_gemini.py -------------------------------

def parse_write(prompt):
    """(name, text) of a WRITE-FILE NAME TEXT line, or None."""
    m = re.search(r"WRITE-FILE\s+(\S+)\s+([^\n]*)", prompt or "")
    if not m:
        return None
    return m.group(1), m.group(2).strip() or "x"


def write_command(prompt):
    name, text = parse_write(prompt)
    return "printf %%s %s > %s" % (shlex.quote(text), shlex.quote(name))


def http_error(prompt):
    m = re.search(r"HTTP-ERROR\s+(\d{3})", prompt or "")
    if m:
        return int(m.group(1))
    return state["fail"]


def fill(schema, cmd, key=""):
    """A value for a JSON schema: the command where one is wanted."""
    if not isinstance(schema, dict):
        return cmd
    t = schema.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"][0] if t else "string"
    if key in ("command", "cmd", "script"):
        if t == "array":
            return ["bash", "-lc", cmd]
        return cmd
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if t == "object":
        props = schema.get("properties", {})
        out = {}
        for k in schema.get("required", []):
            out[k] = fill(props.get(k, {}), cmd, k)
        for k in ("command", "cmd"):
            if k in props and k not in out:
                out[k] = fill(props[k], cmd, k)
        return out
    if t == "array":
        return []
    if t in ("integer", "number"):
        return 10000 if "timeout" in key else 1
    if t == "boolean":
        return False
    if key == "description":
        return "Write the file"
    if key in ("workdir", "cwd", "dir_path", "directory"):
        return os.environ.get("FAKE_WORKDIR", ".")
    return "x"


def pick_tool(tools):
    """(name, arguments schema) of the shell tool among (name, schema)."""
    by = dict(tools)
    for n in SHELL_TOOLS:
        if n in by:
            return n, by[n]
    for n, s in tools:
        if "shell" in n or "exec" in n or "bash" in n:
            return n, s
    return None, None


# ---- the Responses API ----------------------------------------------------

def item_text(item):
    c = item.get("content", "")
    if isinstance(c, str):
        return c
    return "".join(p.get("text", "") for p in c
                   if isinstance(p, dict) and "text" in p)


def responses_answer(body):
    """(kind, payload): ("text", str) or ("call", (name, args_json))."""
    items = body.get("input", [])
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    last = -1
    for i, it in enumerate(items):
        if it.get("role") == "user" and it.get("type", "message") == "message":
            last = i
    prompt = item_text(items[last]) if last >= 0 else ""
    after = items[last + 1:] if last >= 0 else []
    if any(it.get("type", "").endswith("_call_output") for it in after):
        w = parse_write(prompt)
        return prompt, "text", "wrote %s" % (w[0] if w else "file")
    if parse_write(prompt):
        tools = responses_tools(body)
        name, schema = pick_tool([(n, s) for k, n, s, d in tools
                                  if k in ("function", "local_shell")])
        if name:
            return prompt, "call", ("function", name, json.dumps(
                fill(schema or {"type": "object",
                                "required": ["command"],
                                "properties": {"command": {
                                    "type": "array"}}},
                     write_command(prompt))))
        # codex's code mode: one freeform "exec" tool that runs JavaScript,
        # the shell being reachable as tools.exec_command({cmd}) in it
        for k, n, s, d in tools:
            if k == "custom" and n == "exec" and "exec_command" in d:
                js = ("const r = await tools.exec_command(%s);\n"
                      "text(r.output);\n" %
                      json.dumps({"cmd": write_command(prompt)}))
                return prompt, "call", ("custom", n, js)
    return prompt, "text", "echo: %s" % prompt[:200]


def responses_tools(body):
    """(kind, name, schema, description) of every tool offered: in the
    tools array, and in additional_tools input items (codex), namespaces
    flattened."""
    out = []

    def walk(ts):
        for t in ts or []:
            if not isinstance(t, dict):
                continue
            if t.get("type") == "namespace":
                walk(t.get("tools"))
            else:
                out.append((t.get("type"), t.get("name") or t.get("type"),
                            t.get("parameters"), t.get("description", "")))
    walk(body.get("tools"))
    for it in body.get("input", []) if isinstance(body.get("input"),
                                                  list) else []:
        if it.get("type") == "additional_tools":
            walk(it.get("tools"))
    return out


def usage_resp():
    return {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 9,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 129}


# ---- the server -----------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_fake")
        self.end_headers()
        self.wfile.write(data)

    def send_error_status(self, code):
        kinds = {400: "invalid_request_error", 401: "invalid_request_error",
                 403: "permission_error", 404: "not_found_error",
                 429: "rate_limit_exceeded"}
        msg = ("Incorrect API key provided." if code == 401
               else "The server had an error while processing your request.")
        self.send_json(code, {"error": {
            "message": msg, "type": kinds.get(code, "server_error"),
            "param": None,
            "code": "invalid_api_key" if code == 401 else None}})

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, name, obj):
        head = "event: %s\n" % name if name else ""
        data = obj if isinstance(obj, str) else json.dumps(obj)
        self.wfile.write(("%sdata: %s\n\n" % (head, data)).encode())
        self.wfile.flush()

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        path = self.path.split("?")[0]
        log({"method": "GET", "path": self.path,
             "upgrade": self.headers.get("Upgrade")})
        if path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "created": 1767225600,
                 "owned_by": "fake"}], "models": []})
            return
        self.send_json(404, {"error": {"message": "Not found",
                                       "type": "invalid_request_error"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(n)
        if self.headers.get("Content-Encoding") == "zstd":
            body = {}
        else:
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
        log({"n": k, "method": "POST", "path": self.path,
             "auth": (self.headers.get("Authorization") or "")[:16],
             "model": body.get("model"), "stream": body.get("stream"),
             "tools": ([t[1] for t in responses_tools(body)]
                       if path.endswith("/responses") else
                       [(t.get("function") or {}).get("name")
                        for t in body.get("tools", []) or []]),
             "items": len(body.get("input", []) or body.get("messages", [])
                          or [])})
        if path.endswith("/responses"):
            self.do_responses(body, k)
        elif path.endswith("/chat/completions"):
            self.chat(body, k)
        else:
            self.send_json(404, {"error": {"message": "Not found",
                                           "type": "invalid_request_error"}})

    # -- Responses
    def do_responses(self, body, k):
        prompt, kind, payload = responses_answer(body)
        code = http_error(prompt)
        if code:
            self.send_error_status(code)
            return
        model = body.get("model", MODEL)
        rid = "resp_fake%04d" % k
        base = {"id": rid, "object": "response",
                "created_at": int(time.time()), "status": "in_progress",
                "model": model, "output": [], "usage": None}
        self.start_sse()
        seq = [0]

        def ev(name, obj):
            obj = dict({"type": name, "sequence_number": seq[0]}, **obj)
            seq[0] += 1
            self.sse(name, obj)
        try:
            ev("response.created", {"response": base})
            ev("response.in_progress", {"response": base})
            if kind == "call" and payload[0] == "custom":
                _, name, text = payload
                iid, cid = "ctc_fake%04d" % k, "call_fake%04d" % k
                item = {"id": iid, "type": "custom_tool_call",
                        "status": "in_progress", "name": name,
                        "call_id": cid, "input": ""}
                ev("response.output_item.added",
                   {"output_index": 0, "item": item})
                ev("response.custom_tool_call_input.delta",
                   {"item_id": iid, "output_index": 0, "delta": text})
                ev("response.custom_tool_call_input.done",
                   {"item_id": iid, "output_index": 0, "input": text})
                done = dict(item, status="completed", input=text)
            elif kind == "call":
                _, name, args = payload
                iid, cid = "fc_fake%04d" % k, "call_fake%04d" % k
                item = {"id": iid, "type": "function_call",
                        "status": "in_progress", "name": name,
                        "call_id": cid, "arguments": ""}
                ev("response.output_item.added",
                   {"output_index": 0, "item": item})
                ev("response.function_call_arguments.delta",
                   {"item_id": iid, "output_index": 0, "delta": args})
                ev("response.function_call_arguments.done",
                   {"item_id": iid, "output_index": 0, "arguments": args})
                done = dict(item, status="completed", arguments=args)
            else:
                iid = "msg_fake%04d" % k
                item = {"id": iid, "type": "message", "status": "in_progress",
                        "role": "assistant", "content": []}
                ev("response.output_item.added",
                   {"output_index": 0, "item": item})
                ev("response.content_part.added",
                   {"item_id": iid, "output_index": 0, "content_index": 0,
                    "part": {"type": "output_text", "text": "",
                             "annotations": []}})
                if "SLOW" in prompt and payload.startswith("echo"):
                    chunks = ("tick %d " % i for i in range(120))
                    slow = True
                else:
                    chunks = (payload[i:i + 16]
                              for i in range(0, len(payload), 16))
                    slow = False
                text = ""
                for c in chunks:
                    text += c
                    ev("response.output_text.delta",
                       {"item_id": iid, "output_index": 0,
                        "content_index": 0, "delta": c})
                    if slow:
                        time.sleep(0.5)
                part = {"type": "output_text", "text": text,
                        "annotations": []}
                ev("response.output_text.done",
                   {"item_id": iid, "output_index": 0, "content_index": 0,
                    "text": text})
                ev("response.content_part.done",
                   {"item_id": iid, "output_index": 0, "content_index": 0,
                    "part": part})
                done = dict(item, status="completed", content=[part])
            ev("response.output_item.done", {"output_index": 0, "item": done})
            ev("response.completed", {"response": dict(
                base, status="completed", output=[done],
                usage=usage_resp())})
        except (BrokenPipeError, ConnectionResetError):
            log({"n": k, "aborted": True})

    # -- Chat Completions
    def chat(self, body, k):
        msgs = body.get("messages", [])
        last = -1
        for i, m in enumerate(msgs):
            if m.get("role") == "user":
                last = i
        prompt = item_text(msgs[last]) if last >= 0 else ""
        code = http_error(prompt)
        if code:
            self.send_error_status(code)
            return
        after = msgs[last + 1:] if last >= 0 else []
        call = None
        if any(m.get("role") == "tool" for m in after):
            w = parse_write(prompt)
            text = "wrote %s" % (w[0] if w else "file")
        else:
            text = "echo: %s" % prompt[:200]
            if parse_write(prompt):
                tools = [((t.get("function") or {}).get("name"),
                          (t.get("function") or {}).get("parameters", {}))
                         for t in body.get("tools", []) or []]
                name, schema = pick_tool(tools)
                if name:
                    call = (name, json.dumps(fill(schema,
                                                  write_command(prompt))))
        model = body.get("model", MODEL)
        cid = "chatcmpl-fake%04d" % k
        created = int(time.time())
        usage = {"prompt_tokens": 120, "completion_tokens": 9,
                 "total_tokens": 129}
        finish = "tool_calls" if call else "stop"
        if not body.get("stream"):
            msg = {"role": "assistant", "content": None if call else text}
            if call:
                msg["tool_calls"] = [{"id": "call_fake%04d" % k,
                                      "type": "function",
                                      "function": {"name": call[0],
                                                   "arguments": call[1]}}]
            self.send_json(200, {"id": cid, "object": "chat.completion",
                                 "created": created, "model": model,
                                 "choices": [{"index": 0, "message": msg,
                                              "finish_reason": finish}],
                                 "usage": usage})
            return
        self.start_sse()

        def chunk(delta, fin=None):
            self.sse(None, {"id": cid, "object": "chat.completion.chunk",
                            "created": created, "model": model,
                            "choices": [{"index": 0, "delta": delta,
                                         "finish_reason": fin}]})
        try:
            if call:
                chunk({"role": "assistant", "content": None, "tool_calls": [
                    {"index": 0, "id": "call_fake%04d" % k,
                     "type": "function",
                     "function": {"name": call[0], "arguments": ""}}]})
                chunk({"tool_calls": [{"index": 0, "function": {
                    "arguments": call[1]}}]})
            else:
                chunk({"role": "assistant", "content": ""})
                if "SLOW" in prompt and text.startswith("echo"):
                    for i in range(120):
                        chunk({"content": "tick %d " % i})
                        time.sleep(0.5)
                else:
                    for i in range(0, len(text), 16):
                        chunk({"content": text[i:i + 16]})
            chunk({}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                self.sse(None, {"id": cid, "object": "chat.completion.chunk",
                                "created": created, "model": model,
                                "choices": [], "usage": usage})
            self.sse(None, "[DONE]")
        except (BrokenPipeError, ConnectionResetError):
            log({"n": k, "aborted": True})


class TLSServer(ThreadingHTTPServer):
    def shutdown_request(self, request):
        """Close a connection with a TLS close_notify, as servers do: a
        close without one is a cut response."""
        try:
            request.settimeout(1)
            request.unwrap()
        except (OSError, ValueError, AttributeError):
            pass
        super().shutdown_request(request)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dump")
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = ap.parse_args()
    state["dump"], state["fail"] = a.dump, a.fail
    if a.dump:
        os.makedirs(a.dump, exist_ok=True)
    srv = (TLSServer if a.tls else ThreadingHTTPServer)((a.host, a.port),
                                                        Handler)
    srv.daemon_threads = True
    if a.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
