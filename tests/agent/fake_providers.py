#!/usr/bin/python3
"""fake_providers.py: the four model APIs the credential gateway relays to
(Anthropic, OpenAI, Google Gemini, OpenRouter), over TLS, in one server that
records exactly what it received.  Python stdlib only.

Usage: fake_providers.py ADDR PORT CERT KEY LOG KEYS_JSON
  CERT, KEY  PEM server certificate (chain) and private key
  LOG        file appended with one JSON line per request
  KEYS_JSON  {"anthropic": K, "openai": K, "google": K, "openrouter": K},
             the real keys each provider accepts
Prints "ready" on stdout once it listens.  TLS 1.2 or later, ALPN
http/1.1, HTTP/1.1 with keep-alive: every answer has a Content-Length, or
is "Transfer-Encoding: chunked" (all streams, and Gemini's JSON-array
stream); request bodies may have a Content-Length or be chunked.  Answers
carry "request-id" (Anthropic) or "x-request-id" (the others).  A
connection ends with a TLS close_notify, except after CUT-STREAM.

Routes (the provider is chosen by path, then by credential header):
  Anthropic   POST /v1/messages, POST /v1/messages/count_tokens,
              GET /v1/models (when x-api-key or anthropic-version is sent)
              auth: exactly one x-api-key == keys.anthropic, else 401
              {"type":"error","error":{"type":"authentication_error",
              "message":"invalid x-api-key"},"request_id":...};
              then anthropic-version is required, else 400
              invalid_request_error
  OpenAI      POST /v1/chat/completions, POST /v1/responses, GET /v1/models
              auth: exactly one "Authorization: Bearer keys.openai", else
              401 {"error":{"message","type":"invalid_request_error",
              "param":null,"code":"invalid_api_key"}}
              chat: "stream_options" without "stream": true is a 400, as
              upstream
  Google      POST /v1beta/models/M:generateContent,
              POST /v1beta/models/M:streamGenerateContent (?alt=sse: SSE;
              without: one JSON array, application/json, sent chunked),
              POST /v1beta/models/M:countTokens, GET /v1beta/models
              auth: exactly one x-goog-api-key == keys.google; missing ->
              403 PERMISSION_DENIED, wrong -> 400 INVALID_ARGUMENT (reason
              API_KEY_INVALID), as upstream; error shape
              {"error":{"code","message","status"}}
  OpenRouter  POST /api/v1/chat/completions, GET /api/v1/models
              auth: exactly one "Authorization: Bearer keys.openrouter",
              else 401 {"error":{"code":401,"message":...}}
  Checked in this order: a "key" query parameter on any path -> 400 in
  the provider's shape (logged with "key_in_query": true; it must never be
  sent); unknown path -> 404; wrong method -> 405; credential (above);
  anthropic-version; a POST body that is not a JSON object -> 400; then
  the special prompts.  Other /v1/ paths take Anthropic's shape when
  x-api-key or anthropic-version is sent, else OpenAI's; paths under none
  of /v1/, /v1beta/, /api/v1/ are logged with provider null and answered
  404 in the shape the headers suggest (x-api-key: Anthropic's,
  x-goog-api-key: Google's, else OpenAI's).  A request that cannot be
  parsed (bad request line, unknown method, too many headers) gets a JSON
  error in OpenAI's shape and "Connection: close".

Answers.  USER TEXT = the text of every user message, in order:
  Anthropic  messages[role=user].content (string, or its "text" blocks)
  OpenAI chat, OpenRouter  messages[role=user].content (string or "text"
             parts)
  Responses  "input" (a string, or items with role user: string content or
             input_text/text parts)
  Gemini     contents[role=user or no role].parts[].text
  System prompts, instructions and tool results are not user text.
  LAST = the last of these texts ("" if none);
  N = number of whitespace-separated words over all user text + 10.
Text answered: "echo: " + LAST, streamed as 3 deltas about equal in length,
20 ms apart.  Usage, the same streamed or not:
  Anthropic  usage {"input_tokens": N, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 3, "output_tokens": 7}
             stream: message_start (usage as above but output_tokens 1),
             content_block_start, ping, 3 x content_block_delta
             (text_delta), content_block_stop, message_delta (usage
             {"output_tokens": 7}, cumulative), message_stop
             count_tokens: {"input_tokens": N}
  OpenAI chat  usage {"prompt_tokens": N, "completion_tokens": 7,
             "total_tokens": N+7, "prompt_tokens_details": {"cached_tokens":
             3, ...}, "completion_tokens_details": {"reasoning_tokens": 0,
             ...}}
             stream: "data:" chunks (role, 3 contents, finish_reason
             "stop"); ONLY when stream_options.include_usage is true the
             chunks carry "usage": null and a last chunk with "choices": []
             and the usage follows; then "data: [DONE]"
  Responses  usage {"input_tokens": N, "input_tokens_details":
             {"cached_tokens": 3}, "output_tokens": 7,
             "output_tokens_details": {"reasoning_tokens": 2},
             "total_tokens": N+7}
             stream: response.created, response.in_progress,
             output_item.added, content_part.added, 3 x
             response.output_text.delta, output_text.done,
             content_part.done, output_item.done, response.completed
             (response.usage as above); no [DONE]
  Gemini     usageMetadata {"promptTokenCount": N, "candidatesTokenCount":
             7, "cachedContentTokenCount": 3, "thoughtsTokenCount": 2,
             "totalTokenCount": N+9}
             stream: 3 GenerateContentResponse records (SSE events ending
             in CRLF CRLF, or the elements of the JSON array); those before
             the last carry a partial usageMetadata {"promptTokenCount": N,
             "candidatesTokenCount": C, "totalTokenCount": N+C}, C = 1, 3,
             5, 6, 6...; the last has finishReason STOP and the full usage
             above; then the stream ends (no [DONE]).  countTokens:
             {"totalTokens": N}
  OpenRouter usage {"prompt_tokens": N, "completion_tokens": 7,
             "total_tokens": N+7, "cost": 0.00123, "is_byok": false,
             "prompt_tokens_details": {"cached_tokens": 0, ...},
             "cost_details": {...}, "completion_tokens_details":
             {"reasoning_tokens": 0}}
             stream: two ": OPENROUTER PROCESSING" comment lines, then
             chunks as OpenAI's; the usage chunk ("choices": []) is sent
             always (include_usage is not needed); then "data: [DONE]"
Special prompts (in LAST; the first that applies wins, BIG-OUTPUT and
CUT-STREAM combine):
  ERROR-500     500 in the provider's error shape (streamed or not)
  ERROR-429     429 in the provider's error shape, "Retry-After: 7"
  CUT-STREAM    streamed: the first two events are sent (Anthropic
                message_start and content_block_start; chat: the role chunk
                and the first text chunk, after OpenRouter's comments;
                Responses: response.created and response.in_progress;
                Gemini: the first two records), then the TCP connection is
                shut down (shutdown(SHUT_RDWR) on the socket: a FIN) with no
                TLS close_notify (SSL_shutdown is never called for it) and
                no terminating chunk.  Not streamed (and generateContent):
                the headers and half the body (Content-Length of the whole),
                then the same cut.
  CUT-STREAM-RST  the same, but 0.2 s later the socket is closed with
                SO_LINGER 0: a TCP RST instead of a FIN.
  BIG-OUTPUT B  the answer text is B bytes of "abc...z" repeated (B at most
                512 MiB), as 1024-byte deltas with no pauses (the events
                are sent together, about 64 KiB to a chunk); usage as usual
                (output 7).
The server never writes its keys in a body: the keys in the echoed text or
model name, or anywhere in a body, are replaced by "***".

Log: one JSON line per request, written before its answer is sent:
  {"provider": "anthropic"|"openai"|"google"|"openrouter"|null,
   "method", "path" (with its query), "headers": {lowercased name: value}
   (every header; repeated ones joined with ", "), "body": the parsed JSON
   body or null, "body_sha256": hex of the raw body, "body_len",
   "status": the status sent, "stream": true for a streamed answer,
   "conn": number of the TCP connection (from 1), "conn_req": number of
   the request on that connection (from 1), "cut": "fin"/"rst"/null,
   "key_in_query": bool}
"""
import hashlib
import itertools
import json
import re
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 64 << 20
MAX_BIG = 512 << 20
CREATED = 1700000000
DELAY = 0.02
COST = 0.00123

log_lock = threading.Lock()
counter = itertools.count(1)
conns = itertools.count(1)
state = {"log": None, "keys": {}}

MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-5",
          "openrouter": "openai/gpt-4o-mini", "google": "gemini-2.5-flash"}


def next_id():
    return next(counter)


def write_log(obj):
    line = json.dumps(obj) + "\n"
    with log_lock:
        state["log"].write(line)
        state["log"].flush()


def scrub(data):
    """data (bytes or str) with any of the keys replaced by ***."""
    for k in state["keys"].values():
        if isinstance(k, str) and k:
            if isinstance(data, bytes):
                data = data.replace(k.encode(), b"***")
            else:
                data = data.replace(k, "***")
    return data


# ---- user text --------------------------------------------------------------

def part_texts(content, kinds=("text",)):
    if isinstance(content, str):
        return [content]
    out = []
    if isinstance(content, list):
        for b in content:
            if isinstance(b, dict) and b.get("type") in kinds \
                    and isinstance(b.get("text"), str):
                out.append(b["text"])
    return out


def user_texts(provider, route, body):
    out = []
    if provider == "google":
        for c in body.get("contents") or []:
            if isinstance(c, dict) and c.get("role", "user") == "user":
                for p in c.get("parts") or []:
                    if isinstance(p, dict) and isinstance(p.get("text"), str):
                        out.append(p["text"])
        return out
    if route == "responses":
        inp = body.get("input")
        if isinstance(inp, str):
            return [inp]
        for it in inp if isinstance(inp, list) else []:
            if isinstance(it, dict) and it.get("role") == "user":
                out += part_texts(it.get("content"),
                                  ("input_text", "text"))
        return out
    for m in body.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "user":
            out += part_texts(m.get("content"))
    return out


def pieces(text, n=3):
    k = max(1, -(-len(text) // n))
    return [text[i:i + k] for i in range(0, len(text), k)] or [""]


def big_text(n):
    abc = "abcdefghijklmnopqrstuvwxyz"
    return (abc * (n // 26 + 1))[:n]


class Slices:
    """The text cut in pieces of a size, made as they are read."""

    def __init__(self, text, size):
        self.text, self.size = text, size

    def __len__(self):
        return max(1, -(-len(self.text) // self.size))

    def __iter__(self):
        for i in range(0, max(1, len(self.text)), self.size):
            yield self.text[i:i + self.size]


# ---- error shapes -----------------------------------------------------------

ANT_TYPES = {400: "invalid_request_error", 401: "authentication_error",
             403: "permission_error", 404: "not_found_error",
             405: "invalid_request_error", 413: "request_too_large",
             429: "rate_limit_error", 500: "api_error",
             529: "overloaded_error"}
OAI_TYPES = {400: ("invalid_request_error", None),
             401: ("invalid_request_error", "invalid_api_key"),
             404: ("invalid_request_error", None),
             405: ("invalid_request_error", None),
             413: ("invalid_request_error", None),
             429: ("requests", "rate_limit_exceeded"),
             500: ("server_error", None)}
GOOG_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED",
               403: "PERMISSION_DENIED", 404: "NOT_FOUND",
               405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT",
               429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
MSG_500 = {"anthropic": "Internal server error",
           "openai": "The server had an error while processing your "
                     "request. Sorry about that!",
           "google": "An internal error has occurred.",
           "openrouter": "Internal Server Error"}
MSG_429 = {"anthropic": "Number of request tokens has exceeded your "
                        "per-minute rate limit",
           "openai": "Rate limit reached for requests",
           "google": "Resource has been exhausted (e.g. check quota).",
           "openrouter": "Rate limit exceeded"}


def error_body(provider, status, message, rid, param=None, reason=None):
    if provider == "anthropic":
        return {"type": "error",
                "error": {"type": ANT_TYPES.get(status, "api_error"),
                          "message": message},
                "request_id": rid}
    if provider == "google":
        e = {"code": status, "message": message,
             "status": GOOG_STATUS.get(status, "UNKNOWN")}
        if reason:
            e["details"] = [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason, "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"}}]
        return {"error": e}
    if provider == "openrouter":
        return {"error": {"code": status, "message": message}}
    t, c = OAI_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": t, "param": param,
                      "code": c}}


# ---- answers ----------------------------------------------------------------

def ev_named(name, obj):
    return ("event: %s\ndata: %s\n\n" % (name, json.dumps(obj))).encode()


def ev_data(obj):
    return ("data: %s\n\n" % json.dumps(obj)).encode()


def anthropic_usage(n, out=7):
    return {"input_tokens": n, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 3, "output_tokens": out,
            "service_tier": "standard"}


def anthropic_message(a):
    return {"id": a["id"], "type": "message", "role": "assistant",
            "model": a["model"],
            "content": [{"type": "text", "text": a["text"]}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": anthropic_usage(a["n"])}


def anthropic_stream(a):
    msg = dict(anthropic_message(a), content=[], stop_reason=None,
               usage=anthropic_usage(a["n"], 1))
    yield ev_named("message_start", {"type": "message_start",
                                     "message": msg}), True, 0
    yield ev_named("content_block_start", {
        "type": "content_block_start", "index": 0,
        "content_block": {"type": "text", "text": ""}}), True, 0
    yield ev_named("ping", {"type": "ping"}), True, 0
    for p in a["pieces"]:
        yield ev_named("content_block_delta", {
            "type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": p}}), True, a["delay"]
    yield ev_named("content_block_stop", {"type": "content_block_stop",
                                          "index": 0}), True, 0
    yield ev_named("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 7}}), True, 0
    yield ev_named("message_stop", {"type": "message_stop"}), True, 0


def chat_usage(a, openrouter):
    u = {"prompt_tokens": a["n"], "completion_tokens": 7,
         "total_tokens": a["n"] + 7}
    if openrouter:
        u.update({"cost": COST, "is_byok": False,
                  "prompt_tokens_details": {"cached_tokens": 0,
                                            "audio_tokens": 0},
                  "cost_details": {"upstream_inference_cost": None},
                  "completion_tokens_details": {"reasoning_tokens": 0}})
    else:
        u.update({"prompt_tokens_details": {"cached_tokens": 3,
                                            "audio_tokens": 0},
                  "completion_tokens_details": {
                      "reasoning_tokens": 0, "audio_tokens": 0,
                      "accepted_prediction_tokens": 0,
                      "rejected_prediction_tokens": 0}})
    return u


def chat_base(a, openrouter, obj):
    d = {"id": a["id"], "object": obj, "created": CREATED,
         "model": a["model"]}
    if openrouter:
        d["provider"] = "OpenAI"
    else:
        d["service_tier"] = "default"
        d["system_fingerprint"] = "fp_fake"
    return d


def chat_message(a, openrouter):
    d = chat_base(a, openrouter, "chat.completion")
    d["choices"] = [{"index": 0, "message": {
        "role": "assistant", "content": a["text"], "refusal": None,
        "annotations": []}, "logprobs": None, "finish_reason": "stop"}]
    d["usage"] = chat_usage(a, openrouter)
    return d


def chat_stream(a, openrouter, include_usage):
    with_usage = openrouter or include_usage
    if openrouter:
        yield b": OPENROUTER PROCESSING\n\n", False, 0
        yield b": OPENROUTER PROCESSING\n\n", False, 0

    def chunk(delta, fin=None):
        d = chat_base(a, openrouter, "chat.completion.chunk")
        d["choices"] = [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": fin}]
        if with_usage and not openrouter:
            d["usage"] = None
        return ev_data(d)
    yield chunk({"role": "assistant", "content": "", "refusal": None}), \
        True, 0
    for p in a["pieces"]:
        yield chunk({"content": p}), True, a["delay"]
    yield chunk({}, "stop"), True, 0
    if with_usage:
        d = chat_base(a, openrouter, "chat.completion.chunk")
        d["choices"] = []
        d["usage"] = chat_usage(a, openrouter)
        yield ev_data(d), True, 0
    yield b"data: [DONE]\n\n", True, 0


def responses_usage(a):
    return {"input_tokens": a["n"],
            "input_tokens_details": {"cached_tokens": 3},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 2},
            "total_tokens": a["n"] + 7}


def responses_object(a, status, output, usage):
    return {"id": a["id"], "object": "response", "created_at": CREATED,
            "status": status, "background": False, "error": None,
            "incomplete_details": None, "instructions": None,
            "max_output_tokens": None, "model": a["model"],
            "output": output, "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None}, "store": False,
            "temperature": 1.0, "text": {"format": {"type": "text"}},
            "tool_choice": "auto", "tools": [], "top_p": 1.0,
            "truncation": "disabled", "usage": usage, "user": None,
            "metadata": {}}


def responses_part(text):
    return {"type": "output_text", "annotations": [], "logprobs": [],
            "text": text}


def responses_item(a, status, content):
    return {"id": "msg_" + a["id"][5:], "type": "message", "status": status,
            "content": content, "role": "assistant"}


def responses_message(a):
    item = responses_item(a, "completed", [responses_part(a["text"])])
    return responses_object(a, "completed", [item], responses_usage(a))


def responses_stream(a):
    seq = itertools.count(0)
    mid = "msg_" + a["id"][5:]

    def ev(name, **kw):
        return ev_named(name, dict(type=name, sequence_number=next(seq),
                                   **kw))
    yield ev("response.created",
             response=responses_object(a, "in_progress", [], None)), True, 0
    yield ev("response.in_progress",
             response=responses_object(a, "in_progress", [], None)), True, 0
    yield ev("response.output_item.added", output_index=0,
             item=responses_item(a, "in_progress", [])), True, 0
    yield ev("response.content_part.added", item_id=mid, output_index=0,
             content_index=0, part=responses_part("")), True, 0
    for p in a["pieces"]:
        yield ev("response.output_text.delta", item_id=mid, output_index=0,
                 content_index=0, delta=p, logprobs=[]), True, a["delay"]
    yield ev("response.output_text.done", item_id=mid, output_index=0,
             content_index=0, text=a["text"], logprobs=[]), True, 0
    part = responses_part(a["text"])
    yield ev("response.content_part.done", item_id=mid, output_index=0,
             content_index=0, part=part), True, 0
    item = responses_item(a, "completed", [part])
    yield ev("response.output_item.done", output_index=0,
             item=item), True, 0
    yield ev("response.completed", response=responses_object(
        a, "completed", [item], responses_usage(a))), True, 0


def gemini_usage(n):
    return {"promptTokenCount": n, "candidatesTokenCount": 7,
            "totalTokenCount": n + 9, "cachedContentTokenCount": 3,
            "thoughtsTokenCount": 2,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]}


def gemini_chunks(a):
    """The GenerateContentResponse records of a stream, the last complete."""
    ps = a["pieces"]
    for i, p in enumerate(ps):
        cand = {"content": {"parts": [{"text": p}], "role": "model"},
                "index": 0}
        d = {"candidates": [cand]}
        if i == len(ps) - 1:
            cand["finishReason"] = "STOP"
            d["usageMetadata"] = gemini_usage(a["n"])
        else:
            c = min(2 * i + 1, 6)
            d["usageMetadata"] = {"promptTokenCount": a["n"],
                                  "candidatesTokenCount": c,
                                  "totalTokenCount": a["n"] + c}
        d["modelVersion"] = a["model"]
        d["responseId"] = a["id"]
        yield d


def gemini_message(a):
    return {"candidates": [{"content": {"parts": [{"text": a["text"]}],
                                        "role": "model"},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": gemini_usage(a["n"]),
            "modelVersion": a["model"], "responseId": a["id"]}


def gemini_sse(a):
    for d in gemini_chunks(a):
        yield ("data: %s\r\n\r\n" % json.dumps(d)).encode(), True, a["delay"]


def gemini_array(a):
    first = True
    for d in gemini_chunks(a):
        s = json.dumps(d, indent=2)
        yield ((("[" if first else "\n,\r\n") + s).encode(), True,
               a["delay"])
        first = False
    yield b"\n]", False, 0


MODEL_LISTS = {
    "anthropic": {"data": [{"type": "model", "id": "claude-sonnet-4-5",
                            "display_name": "Claude Sonnet 4.5",
                            "created_at": "2025-09-29T00:00:00Z"}],
                  "has_more": False, "first_id": "claude-sonnet-4-5",
                  "last_id": "claude-sonnet-4-5"},
    "openai": {"object": "list",
               "data": [{"id": "gpt-5", "object": "model",
                         "created": CREATED, "owned_by": "system"}]},
    "google": {"models": [{
        "name": "models/gemini-2.5-flash", "version": "001",
        "displayName": "Gemini 2.5 Flash", "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"]}]},
    "openrouter": {"data": [{
        "id": "openai/gpt-4o-mini", "name": "OpenAI: GPT-4o-mini",
        "created": CREATED, "context_length": 128000,
        "pricing": {"prompt": "0.00000015", "completion": "0.0000006"}}]},
}


# ---- routing ----------------------------------------------------------------

GEMINI_RE = re.compile(r"^/v1beta/models/([A-Za-z0-9._-]+):"
                       r"(generateContent|streamGenerateContent|countTokens)$")


def route_of(method, path, headers):
    """(provider, route, method wanted) or (provider, None, None)."""
    if path.startswith("/api/v1/") or path == "/api/v1":
        table = {"/api/v1/chat/completions": ("chat", "POST"),
                 "/api/v1/models": ("models", "GET")}
        r = table.get(path)
        return ("openrouter",) + (r if r else (None, None))
    if path.startswith("/v1beta/") or path == "/v1beta":
        if path == "/v1beta/models":
            return "google", "models", "GET"
        m = GEMINI_RE.match(path)
        if m:
            return "google", m.group(2), "POST"
        return "google", None, None
    if path.startswith("/v1/") or path == "/v1":
        if path == "/v1/messages":
            return "anthropic", "messages", "POST"
        if path == "/v1/messages/count_tokens":
            return "anthropic", "count_tokens", "POST"
        anth = ("x-api-key" in headers or "anthropic-version" in headers)
        if path == "/v1/models":
            return ("anthropic" if anth else "openai"), "models", "GET"
        if path == "/v1/chat/completions":
            return "openai", "chat", "POST"
        if path == "/v1/responses":
            return "openai", "responses", "POST"
        return ("anthropic" if anth else "openai"), None, None
    return None, None, None


def shape_of(provider, headers):
    if provider:
        return provider
    if "x-api-key" in headers or "anthropic-version" in headers:
        return "anthropic"
    if "x-goog-api-key" in headers:
        return "google"
    return "openai"


class BadBody(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "fake-providers"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.conn_id = next(conns)
        self.conn_req = 0
        self.request.sbx_cut = None

    def send_error(self, code, message=None, explain=None):
        """Errors found while parsing the request line and headers (bad
        request line, unknown method, headers too long...): a JSON body in
        OpenAI's shape, the connection closed, and a log line."""
        self.close_connection = True
        self.shape = "openai"
        self.rid = "req_fake%06d" % next_id()
        self.info = {"provider": None,
                     "method": getattr(self, "command", None),
                     "path": getattr(self, "path", None), "headers": {},
                     "body": None, "body_sha256": None, "body_len": 0,
                     "status": None, "stream": False, "conn": self.conn_id,
                     "conn_req": self.conn_req + 1, "cut": None,
                     "key_in_query": False}
        data = json.dumps(error_body("openai", code, message or "bad "
                                     "request", self.rid)).encode()
        self.begin(code, [("Content-Type", "application/json"),
                          ("Content-Length", str(len(data))),
                          ("Connection", "close")])
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(data)

    # -- input --

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line.endswith(b"\n"):
                    raise BadBody("bad chunk size line")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadBody("bad chunk size")
                if size == 0:
                    while True:
                        t = self.rfile.readline(8192)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    raise BadBody("body too large")
                part = self.rfile.read(size)
                if len(part) < size:
                    raise BadBody("short chunk")
                data += part
                if self.rfile.readline(8) not in (b"\r\n", b"\n"):
                    raise BadBody("bad chunk end")
        cl = self.headers.get_all("Content-Length") or []
        if len(cl) > 1:
            raise BadBody("several Content-Length")
        try:
            n = int(cl[0]) if cl else 0
        except ValueError:
            raise BadBody("bad Content-Length")
        if n < 0 or n > MAX_BODY:
            raise BadBody("bad Content-Length")
        data = self.rfile.read(n)
        if len(data) < n:
            raise BadBody("short body")
        return data

    # -- output --

    def begin(self, status, headers, stream=False):
        """Log the request with its status, then send the status line and
        the headers."""
        self.info["status"] = status
        self.info["stream"] = stream
        write_log(self.info)
        self.started = True
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("request-id" if self.shape == "anthropic"
                         else "x-request-id", self.rid)
        self.end_headers()

    def send_json(self, status, obj, extra=(), cut=None):
        data = scrub(json.dumps(obj).encode())
        self.info["cut"] = cut
        self.begin(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))] + list(extra))
        if cut:
            self.wfile.write(data[:len(data) // 2])
            self.abort(cut)
            return
        self.wfile.write(data)

    def send_error_shape(self, status, message, extra=(), **kw):
        self.send_json(status, error_body(self.shape, status, message,
                                          self.rid, **kw), extra)

    def send_stream(self, gen, ctype, cut, batch=False):
        self.info["cut"] = cut
        self.begin(200, [("Content-Type", ctype),
                         ("Cache-Control", "no-cache"),
                         ("Transfer-Encoding", "chunked")], stream=True)
        events = 0
        buf = []
        size = 0
        for data, is_event, delay in gen:
            if delay:
                time.sleep(delay)
            buf.append(scrub(data))
            size += len(buf[-1])
            events += is_event
            if cut and events >= 2:
                self.write_chunk(b"".join(buf))
                self.abort(cut)
                return
            # BIG-OUTPUT's events share chunks of about 64 KiB; others have
            # a chunk each.
            if not batch or size >= 65536:
                self.write_chunk(b"".join(buf))
                buf, size = [], 0
        self.write_chunk(b"".join(buf))
        self.wfile.write(b"0\r\n\r\n")

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def abort(self, how):
        """End the TCP connection with no TLS close_notify: SSL_shutdown is
        never called for this socket (the server's shutdown_request skips
        unwrap() for it), and the raw socket is shut down (FIN) here, or
        closed with SO_LINGER 0 (RST) once the handler lets go of it, a
        moment later so that the client has likely read what was sent (a
        RST makes the peer's kernel drop what it has not read yet)."""
        self.request.sbx_cut = how
        self.close_connection = True
        if how == "rst":
            time.sleep(0.2)
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
        else:
            socket.socket.shutdown(self.request, socket.SHUT_RDWR)

    # -- dispatch --

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def dispatch(self):
        self.conn_req += 1
        self.started = False
        self.rid = "req_fake%06d" % next_id()
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        url = urlsplit(self.path)
        provider, route, want = route_of(self.command, url.path, headers)
        self.shape = shape_of(provider, headers)
        query = parse_qs(url.query, keep_blank_values=True)
        self.info = {"provider": provider, "method": self.command,
                     "path": self.path, "headers": headers, "body": None,
                     "body_sha256": hashlib.sha256(b"").hexdigest(),
                     "body_len": 0, "status": None, "stream": False,
                     "conn": self.conn_id, "conn_req": self.conn_req,
                     "cut": None, "key_in_query": "key" in query}
        try:
            try:
                raw = self.read_body()
            except BadBody as e:
                self.close_connection = True
                self.send_error_shape(400, "malformed request body: %s" % e)
                return
            self.info["body_sha256"] = hashlib.sha256(raw).hexdigest()
            self.info["body_len"] = len(raw)
            body, bad = None, None
            if raw:
                try:
                    body = json.loads(raw)
                except (ValueError, UnicodeDecodeError) as e:
                    bad = "invalid JSON body: %s" % e.__class__.__name__
            self.info["body"] = body
            self.answer(provider, route, want, url.path, query, body, bad)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError,
                TimeoutError):
            self.close_connection = True
        except Exception as e:
            self.close_connection = True
            sys.stderr.write("fake_providers: %s %s: %r\n" %
                             (self.command, self.path, e))
            sys.stderr.flush()
            if not self.started:
                self.send_error_shape(500, "fake_providers: internal error")

    def check_auth(self, provider):
        """True when the provider's credential is right; else False, an
        error answer sent."""
        key = state["keys"].get(provider)
        if provider == "anthropic":
            got = self.headers.get_all("x-api-key") or []
            if len(got) != 1 or not key or got[0] != key:
                self.send_error_shape(401, "invalid x-api-key")
                return False
            return True
        if provider == "google":
            got = self.headers.get_all("x-goog-api-key") or []
            if not got:
                self.send_error_shape(
                    403, "Method doesn't allow unregistered callers "
                    "(callers without established identity). Please use "
                    "API Key or other form of API consumer identity to "
                    "call this API.")
                return False
            if len(got) != 1 or not key or got[0] != key:
                self.send_error_shape(400, "API key not valid. Please pass "
                                      "a valid API key.",
                                      reason="API_KEY_INVALID")
                return False
            return True
        got = self.headers.get_all("Authorization") or []
        ok = (len(got) == 1 and bool(key) and
              got[0][:7].lower() == "bearer " and got[0][7:] == key)
        if ok:
            return True
        if provider == "openrouter":
            self.send_error_shape(401, "No auth credentials found" if not got
                                  else "User not found.")
        else:
            self.send_error_shape(
                401, "You didn't provide an API key." if not got else
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.")
        return False

    def answer(self, provider, route, want, path, query, body, bad):
        if self.info["key_in_query"]:
            self.send_error_shape(400, "fake_providers: an API key in the "
                                  "URL (key=) is refused")
            return
        if route is None:
            if self.shape == "openai":
                msg = "Invalid URL (%s %s)" % (self.command, path)
            elif self.shape == "google":
                msg = "Requested entity was not found."
            else:
                msg = "Not found"
            self.send_error_shape(404, msg)
            return
        if self.command != want:
            self.send_error_shape(405, "Method %s not allowed for %s" %
                                  (self.command, path))
            return
        if not self.check_auth(provider):
            return
        if provider == "anthropic" and not self.headers.get(
                "anthropic-version"):
            self.send_error_shape(400, "anthropic-version: header is "
                                  "required")
            return
        if route == "models":
            self.send_json(200, MODEL_LISTS[provider])
            return
        if bad or not isinstance(body, dict):
            self.send_error_shape(400, bad or "request body must be a JSON "
                                  "object")
            return
        texts = user_texts(provider, route, body)
        last = texts[-1] if texts else ""
        n = sum(len(t.split()) for t in texts) + 10
        if route == "count_tokens":
            self.send_json(200, {"input_tokens": n})
            return
        if route == "countTokens":
            self.send_json(200, {"totalTokens": n})
            return
        if "ERROR-500" in last:
            self.send_error_shape(500, MSG_500[provider])
            return
        if "ERROR-429" in last:
            self.send_error_shape(429, MSG_429[provider],
                                  extra=[("Retry-After", "7")])
            return
        if route == "chat" and provider == "openai" \
                and body.get("stream_options") is not None \
                and body.get("stream") is not True:
            self.send_error_shape(400, "The 'stream_options' parameter is "
                                  "only allowed when 'stream' is enabled.",
                                  param="stream_options")
            return
        cut = None
        if "CUT-STREAM-RST" in last:
            cut = "rst"
        elif "CUT-STREAM" in last:
            cut = "fin"
        m = re.search(r"BIG-OUTPUT\s+(\d+)", last)
        big = bool(m)
        if big:
            text = big_text(min(int(m.group(1)), MAX_BIG))
            ps = Slices(text, 1024)
            delay = 0
        else:
            text = scrub("echo: " + last)
            ps = pieces(text)
            delay = DELAY
        model = body.get("model") if isinstance(body.get("model"), str) \
            else MODELS[provider]
        if provider == "google":
            model = path.split("/")[3].split(":")[0]
        model = scrub(model)
        prefix = {"anthropic": "msg_fake", "openrouter": "gen-fake",
                  "google": "fake"}.get(provider, "chatcmpl-fake")
        if route == "responses":
            prefix = "resp_fake"
        a = {"id": "%s%06d" % (prefix, next_id()), "model": model,
             "text": text, "pieces": ps, "delay": delay, "n": n}
        sse = "text/event-stream"
        if provider == "google":
            if route == "generateContent":
                self.send_json(200, gemini_message(a), cut=cut)
            elif query.get("alt") == ["sse"]:
                self.send_stream(gemini_sse(a), sse, cut, big)
            else:
                self.send_stream(gemini_array(a), "application/json", cut,
                                 big)
            return
        stream = body.get("stream") is True
        if provider == "anthropic":
            if stream:
                self.send_stream(anthropic_stream(a), sse, cut, big)
            else:
                self.send_json(200, anthropic_message(a), cut=cut)
            return
        if route == "responses":
            if stream:
                self.send_stream(responses_stream(a), sse, cut, big)
            else:
                self.send_json(200, responses_message(a), cut=cut)
            return
        o = provider == "openrouter"
        if stream:
            so = body.get("stream_options")
            inc = isinstance(so, dict) and so.get("include_usage") is True
            self.send_stream(chat_stream(a, o, inc), sse, cut, big)
        else:
            self.send_json(200, chat_message(a, o), cut=cut)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def shutdown_request(self, request):
        """Close a connection: with a TLS close_notify, unless it was cut
        (then a plain close(): with SO_LINGER 0 set, a RST)."""
        cut = getattr(request, "sbx_cut", None)
        if cut:
            request.close()
            return
        if isinstance(request, ssl.SSLSocket):
            try:
                request.settimeout(1)
                request.unwrap()
            except (OSError, ValueError):
                pass
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        sys.stderr.write("fake_providers: %s: %r\n" % (client_address, e))
        sys.stderr.flush()


def main():
    if len(sys.argv) != 7:
        sys.stderr.write("usage: fake_providers.py ADDR PORT CERT KEY LOG "
                         "KEYS_JSON\n")
        sys.exit(2)
    addr, port, cert, key, logpath, keys = sys.argv[1:]
    state["keys"] = json.loads(keys)
    state["log"] = open(logpath, "a")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(cert, key)
    srv = Server((addr, int(port)), Handler)
    # The handshake happens on the first read, in the connection's thread.
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                 do_handshake_on_connect=False)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
