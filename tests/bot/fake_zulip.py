#!/usr/bin/python3
"""fake_zulip.py: a fake Zulip server for the sbxd chat-bot tests (stdlib only).

Usage:
  fake_zulip.py --port P --control-port C --cert CERT.pem --key KEY.pem
                --api-key-file FILE [--heartbeat 45] [--longpoll-timeout 90]
                [--max-message-length 10000] [--max-topic-length 60]
                [--edit-limit 600] [--rate-limit 200] [--ready-file PATH]

The API is HTTPS (HTTP/1.1, keep-alive, threaded) on 127.0.0.1:P, shaped after
zerver/openapi/zulip.yaml.  Every /api/v1 request needs HTTP Basic
"sbx-bot@zulip.test:<first line of --api-key-file>"; only the bot logs in.
  POST   /api/v1/register                  event queue (event_types, narrow,
                                           apply_markdown, fetch_event_types...)
  GET    /api/v1/events                    long poll (queue_id, last_event_id,
                                           dont_block); heartbeat after
                                           --heartbeat s
  DELETE /api/v1/events                    drop a queue
  GET    /api/v1/users, /users/me, /users/{id|email}, /users/me/subscriptions
  GET    /api/v1/streams, /get_stream_id?stream=NAME, /server_settings (no auth)
  GET    /api/v1/messages                  anchor/num_before/num_after/narrow
  POST   /api/v1/messages                  send (stream|channel|direct|private)
  GET    /api/v1/messages/{id}             one message (+ raw_content)
  PATCH  /api/v1/messages/{id}             edit content and/or topic
  POST|DELETE /api/v1/messages/{id}/reactions
Realm: streams "sandboxes" (5, the bot is subscribed) and "other" (6); users
10 sbx-bot (bot), 11 alice (admin), 12 bob, 13 eve, 14 other-bot (bot),
15 carol (admin).  Message ids start at 1000, event ids at 0; both grow by a
random step of 1..3.

Test control, plain HTTP with JSON bodies, on 127.0.0.1:C:
  POST /post {sender_id, topic, content, stream="sandboxes", age=0,
              type="stream"|"direct", to=[user ids] for direct}  -> {id}
  POST /react {user_id, message_id, emoji_name, op="add"|"remove"} -> {ok}
  GET  /messages[?sender_id=N][&topic=T][&stream=S]
       -> {messages:[{id, sender_id, type, stream, topic, content, timestamp, received (float),
          edits:[{content, topic, t, prev_content, prev_topic, user_id}],
          reactions:[{user_id, emoji_name, emoji_code}]}]}
  POST /expire                 drop every event queue -> {expired: n}
  POST /fail {mode, count=1, path=substring of the request target,
              method=optional, retry_after=2}   modes: 429 401 500 502
              html200 badjson truncated hang bad_queue; {mode:"clear"}
  POST /auth {key}             change the bot's valid API key
  POST /ratelimit {limit}      requests per 60 s per user from now on
  POST /move {message_id, topic, propagate_mode=change_all}
                               the message's sender renames its topic
  GET  /log, POST /log/clear   {requests:[{t, method, path, query, status,
                               user}]} (status null while a request hangs)
  GET  /stats                  {queues, requests, rate_limited, messages}
  GET  /queues                 [{queue_id, event_types, narrow, pending,
                               last_poll}]

Deviations from the real server (on purpose, to catch client bugs or keep
the fake small):
  - content longer than max_message_length (code points, after Zulip's
    normalisation: trailing whitespace and leading blank lines dropped) is
    refused with "Message too long" instead of being truncated; likewise
    "Topic too long" instead of truncation, and a missing topic on a channel
    message is "Missing topic" (no empty-topic "general chat" fallback).
  - channel wildcard mentions (@**all** @**everyone** @**stream**
    @**channel**, outside code spans/blocks) are always refused, @**topic**
    too; the real server allows them in small channels or to admins.
  - GET /events is never counted by the rate limiter (whether the real
    server counts long polls was not verified); the window is a sliding 60 s
    one.  Retry-After and X-RateLimit-Reset are sent as decimal strings
    (the real server sends secs_to_freedom, which may be fractional).
  - the heartbeat comes after exactly --heartbeat seconds (real: 45 + 0..10).
  - "Markdown rendering" is "<p>" + html.escape(content) + "</p>".
  - message flags are only "read" (the bot's own) and "mentioned"
    (@**sbx bot**); no unread tracking, so anchor=first_unread == newest.
  - a queue is narrowed for message, reaction and update_message events
    alike; the real server narrows message events.
  - an empty content edit stores "(deleted)" as the real server does.
  - control /post and /react skip the API's checks (length, wildcards), as
    a human in the web app would not be the bot under test.
"""
import argparse
import base64
import collections
import hashlib
import html
import json
import os
import random
import re
import secrets
import signal
import ssl
import sys
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

BOT_ID = 10
USERS = {}
for _uid, _email, _name, _role, _bot in [
        (10, "sbx-bot@zulip.test", "sbx bot", 400, True),
        (11, "alice@zulip.test", "Alice Admin", 200, False),
        (12, "bob@zulip.test", "Bob User", 400, False),
        (13, "eve@zulip.test", "Eve Outsider", 400, False),
        (14, "other-bot@zulip.test", "Other Bot", 400, True),
        (15, "carol@zulip.test", "Carol", 200, False)]:
    USERS[_uid] = {"user_id": _uid, "email": _email, "full_name": _name,
                   "role": _role, "is_bot": _bot}
STREAMS = {5: "sandboxes", 6: "other"}
SUBSCRIBED = {5}                 # the bot's subscriptions
LARGER_THAN_MAX_MESSAGE_ID = 10000000000000000
EMOJI = {"check": "2705", "white_check_mark": "2705",
         "heavy_check_mark": "2714", "+1": "1f44d", "thumbs_up": "1f44d",
         "-1": "1f44e", "x": "274c", "cross_mark": "274c", "eyes": "1f440",
         "hourglass": "231b", "stop_sign": "1f6d1", "stop": "1f6d1",
         "warning": "26a0", "robot": "1f916", "working_on_it": "1f6e0",
         "tada": "1f389", "question": "2753", "octopus": "1f419",
         "infinity": "267e"}
EMOJI_RE = re.compile(r"[a-z0-9_+-]+")
FAULT_MODES = {"429", "401", "500", "502", "html200", "badjson", "truncated",
               "hang", "bad_queue"}
NARROW_OPS = {"channel": "channel", "stream": "channel", "topic": "topic",
              "subject": "topic", "sender": "sender", "is": "is", "dm": "dm",
              "pm-with": "dm", "id": "id", "search": "search"}
IS_OPERANDS = {"dm", "private", "mentioned", "alerted", "resolved", "unread",
               "starred"}
CODE_BLOCK_RE = re.compile(r"(?ms)^[ \t]*(`{3,}|~{3,})[^\n]*$.*?(?:^[ \t]*\1[ \t]*$|\Z)")
CODE_SPAN_RE = re.compile(r"`[^`\n]+`")
STREAM_WILDCARD_RE = re.compile(r"@\*\*(all|everyone|stream|channel)\*\*")
TOPIC_WILDCARD_RE = re.compile(r"@\*\*topic\*\*")
BOT_MENTION_RE = re.compile(r"@\*\*sbx bot(?:\|10)?\*\*")
HTML_PAGE = ("<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n"
             "<center><h1>{0}</h1></center>\r\n<hr><center>nginx</center>\r\n"
             "</body>\r\n</html>\r\n")

ARGS = None
STOP = threading.Event()
LOG_LOCK = threading.Lock()


def log(line):
    with LOG_LOCK:
        sys.stderr.write("fake_zulip %s %s\n" % (time.strftime("%H:%M:%S"), line))
        sys.stderr.flush()


class ApiError(Exception):
    def __init__(self, msg, code="BAD_REQUEST", status=400, **data):
        super().__init__(msg)
        self.msg, self.code, self.status, self.data = msg, code, status, data

    def body(self):
        d = {"result": "error", "msg": self.msg, "code": self.code}
        d.update(self.data)
        return d


def bad_queue(qid):
    return ApiError("Bad event queue id: %s" % qid, "BAD_EVENT_QUEUE_ID",
                    queue_id=qid)


# ---------------------------------------------------------------- realm data
def user_json(u):
    d = {"user_id": u["user_id"], "email": u["email"],
         "delivery_email": u["email"], "full_name": u["full_name"],
         "is_bot": u["is_bot"], "is_active": True, "role": u["role"],
         "is_admin": u["role"] <= 200, "is_owner": u["role"] == 100,
         "is_guest": u["role"] == 600, "is_billing_admin": False,
         "avatar_url": None, "avatar_version": 1, "timezone": "",
         "date_joined": "2024-01-01T00:00:00+00:00"}
    if u["is_bot"]:
        d.update(bot_type=1, bot_owner_id=11)
    else:
        d["profile_data"] = {}
    return d


def stream_json(sid):
    return {"stream_id": sid, "name": STREAMS[sid], "description": "",
            "rendered_description": "", "invite_only": False,
            "is_web_public": False, "is_archived": False,
            "history_public_to_subscribers": True,
            "date_created": 1704067200, "stream_post_policy": 1}


def find_user(x):
    """A user id (int or digit string) or an email -> user id or None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, str) and x.isdigit():
        x = int(x)
    if isinstance(x, int):
        return x if x in USERS else None
    if isinstance(x, str):
        for u in USERS.values():
            if u["email"].lower() == x.strip().lower():
                return u["user_id"]
    return None


def find_stream(x):
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x if x in STREAMS else None
    if isinstance(x, str):
        for sid, name in STREAMS.items():
            if name.lower() == x.strip().lower():
                return sid
    return None


def render(content, markdown):
    return "<p>" + html.escape(content) + "</p>" if markdown else content


def strip_code(text):
    return CODE_SPAN_RE.sub("", CODE_BLOCK_RE.sub("", text))


def check_content(content):
    """Zulip's normalize_body plus the length and wildcard checks."""
    c = content.rstrip().lstrip("\n")
    if not c.strip():
        raise ApiError("Message must not be empty")
    if "\x00" in c:
        raise ApiError("Message must not contain null bytes")
    if len(c) > ARGS.max_message_length:
        raise ApiError("Message too long", max_length=ARGS.max_message_length)
    plain = strip_code(c)
    if STREAM_WILDCARD_RE.search(plain):
        raise ApiError("You do not have permission to use channel wildcard "
                       "mentions in this channel.",
                       "STREAM_WILDCARD_MENTION_NOT_ALLOWED")
    if TOPIC_WILDCARD_RE.search(plain):
        raise ApiError("You do not have permission to use topic wildcard "
                       "mentions in this topic.",
                       "TOPIC_WILDCARD_MENTION_NOT_ALLOWED")
    return c


def check_topic(topic):
    t = topic.strip()
    if len(t) > ARGS.max_topic_length:
        raise ApiError("Topic too long", max_length=ARGS.max_topic_length)
    for i, ch in enumerate(t):
        if unicodedata.category(ch) in ("Cc", "Cs", "Cn"):
            raise ApiError("Invalid character in topic, at position %d!" % (i + 1))
    return t


# ------------------------------------------------------------------- narrows
def parse_narrow(raw, strict):
    """[[op, operand], ...] or [{operator, operand, negated}, ...] ->
    [(op, value, negated)].  strict: unknown channels/users are errors."""
    if not isinstance(raw, list):
        raise ApiError("narrow is not a list")
    out = []
    for i, t in enumerate(raw):
        if isinstance(t, list) and len(t) == 2:
            op, operand, neg = t[0], t[1], False
        elif isinstance(t, dict) and "operator" in t and "operand" in t:
            op, operand, neg = t["operator"], t["operand"], bool(t.get("negated"))
        else:
            raise ApiError("Invalid narrow[%d]" % i, "BAD_NARROW")
        if not isinstance(op, str) or op not in NARROW_OPS:
            raise ApiError("Invalid narrow operator: unknown operator", "BAD_NARROW")
        op = NARROW_OPS[op]
        if op == "channel":
            val = find_stream(operand)
            if val is None:
                if strict:
                    raise ApiError("Invalid narrow operator: unknown channel", "BAD_NARROW")
                val = -1
        elif op == "sender":
            val = find_user(operand)
            if val is None:
                if strict:
                    raise ApiError("Invalid narrow operator: unknown user", "BAD_NARROW")
                val = -1
        elif op == "dm":
            items = operand.split(",") if isinstance(operand, str) else operand
            items = items if isinstance(items, list) else [items]
            val = {find_user(x) for x in items}
            if None in val:
                raise ApiError("Invalid narrow operator: unknown user", "BAD_NARROW")
        elif op == "is":
            if operand not in IS_OPERANDS:
                raise ApiError("Invalid narrow operator: unknown 'is' operand", "BAD_NARROW")
            val = operand
        elif op == "id":
            if isinstance(operand, bool) or not str(operand).isdigit():
                raise ApiError("Invalid message ID", "BAD_NARROW")
            val = int(operand)
        else:
            if not isinstance(operand, str):
                raise ApiError("Invalid narrow[%d]: operand is not a string" % i, "BAD_NARROW")
            val = operand
        out.append((op, val, neg))
    return out


def bot_mentioned(m):
    return bool(BOT_MENTION_RE.search(strip_code(m["content"])))


def term_matches(m, op, val):
    stream = m["type"] == "stream"
    if op == "channel":
        return stream and m["stream_id"] == val
    if op == "topic":
        return stream and m["topic"].lower() == val.lower()
    if op == "sender":
        return m["sender_id"] == val
    if op == "dm":
        return not stream and set(m["recipients"]) == val | {BOT_ID}
    if op == "id":
        return m["id"] == val
    if op == "search":
        return val.lower() in m["content"].lower() or val.lower() in m["topic"].lower()
    if val in ("dm", "private"):
        return not stream
    if val in ("mentioned", "alerted"):
        return bot_mentioned(m)
    if val == "resolved":
        return m["topic"].startswith("\u2714 ")
    return False                                    # unread, starred


def narrow_matches(m, terms):
    return all(term_matches(m, op, val) != neg for op, val, neg in terms)


# ------------------------------------------------------------------ messages
def flags_for(m):
    flags = ["read"] if m["sender_id"] == BOT_ID else []
    if bot_mentioned(m):
        flags.append("mentioned")
    return flags


def reaction_json(r):
    u = USERS[r["user_id"]]
    return {"emoji_name": r["emoji_name"], "emoji_code": r["emoji_code"],
            "reaction_type": r["reaction_type"], "user_id": r["user_id"],
            "user": {"id": u["user_id"], "email": u["email"],
                     "full_name": u["full_name"], "is_mirror_dummy": False}}


def msg_json(m, markdown):
    s = USERS[m["sender_id"]]
    d = {"id": m["id"], "sender_id": s["user_id"], "sender_email": s["email"],
         "sender_full_name": s["full_name"], "sender_realm_str": "zulip",
         "avatar_url": None, "content": render(m["content"], markdown),
         "content_type": "text/html" if markdown else "text/x-markdown",
         "subject": m["topic"], "topic_links": [], "type": m["type"],
         "timestamp": int(m["timestamp"]), "client": m["client"],
         "is_me_message": m["content"].startswith("/me "),
         "reactions": [reaction_json(r) for r in m["reactions"]],
         "submessages": []}
    if m["type"] == "stream":
        d.update(display_recipient=STREAMS[m["stream_id"]],
                 stream_id=m["stream_id"], recipient_id=100 + m["stream_id"])
    else:
        d["display_recipient"] = [
            {"id": i, "email": USERS[i]["email"], "full_name": USERS[i]["full_name"],
             "is_mirror_dummy": False} for i in m["recipients"]]
        d["recipient_id"] = 200 + sum(m["recipients"])
    if m["edits"]:
        d["last_edit_timestamp"] = int(m["edits"][-1]["t"])
        hist = []
        for e in reversed(m["edits"]):
            h = {"timestamp": int(e["t"]), "user_id": e["user_id"]}
            if e["content"] != e["prev_content"]:
                h.update(prev_content=e["prev_content"],
                         prev_rendered_content=render(e["prev_content"], True),
                         prev_rendered_content_version=1)
            if e["topic"] != e["prev_topic"]:
                h.update(prev_topic=e["prev_topic"], topic=e["topic"])
            hist.append(h)
        d["edit_history"] = hist
    return d


# --------------------------------------------------------------------- state
class Queue:
    def __init__(self, event_types, narrow_raw, narrow, markdown, all_public):
        self.queue_id = "%d:%s" % (int(time.time()), secrets.token_hex(8))
        self.event_types = None if event_types is None else set(event_types)
        self.event_types_raw = event_types
        self.narrow_raw, self.narrow = narrow_raw, narrow
        self.markdown, self.all_public = markdown, all_public
        self.events, self.next_event = [], 0
        self.last_poll, self.pollers, self.dead = time.time(), 0, False

    def push(self, ev):
        ev["id"] = self.next_event
        self.next_event += random.randint(1, 3)
        self.events.append(ev)

    def wants(self, kind):
        return self.event_types is None or kind in self.event_types

    def sees(self, m):
        if m["type"] == "stream":
            ok = m["stream_id"] in SUBSCRIBED or self.all_public
        else:
            ok = BOT_ID in m["recipients"]
        return ok and narrow_matches(m, self.narrow)


class State:
    def __init__(self, api_key):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.api_key = api_key
        self.msgs = {}                      # id -> record, in id order
        self.next_msg = 1000
        self.queues = {}
        self.faults = []
        self.requests = []                  # the /log
        self.n_requests = self.n_limited = 0
        self.rate = collections.defaultdict(collections.deque)

    # everything below runs with self.lock held
    def new_message(self, sender, mtype, stream_id, topic, content, recipients,
                    client, ts, local=None):
        mid = self.next_msg
        self.next_msg += random.randint(1, 3)
        m = {"id": mid, "sender_id": sender, "type": mtype,
             "stream_id": stream_id, "topic": topic, "content": content,
             "recipients": recipients, "client": client, "timestamp": ts,
             "received": time.time(), "edits": [], "reactions": []}
        self.msgs[mid] = m
        for q in self.queues.values():
            if q.wants("message") and q.sees(m):
                ev = {"type": "message", "message": msg_json(m, q.markdown),
                      "flags": flags_for(m)}
                if local and local[0] == q.queue_id:
                    ev["local_message_id"] = local[1]
                q.push(ev)
        self.cond.notify_all()
        return mid

    def react(self, uid, mid, name, code, rtype, op):
        m = self.msgs.get(mid)
        if m is None:
            raise ApiError("Invalid message(s)")
        rtype = rtype or "unicode_emoji"
        if rtype not in ("unicode_emoji", "realm_emoji", "zulip_extra_emoji"):
            raise ApiError("Invalid reaction type")
        if name is not None:
            if not EMOJI_RE.fullmatch(name):
                raise ApiError("Emoji '%s' does not exist" % name)
            known = EMOJI.get(name)
            if code is not None and known and code != known:
                raise ApiError("Invalid emoji code.")
        same = [r for r in m["reactions"] if r["user_id"] == uid and
                r["reaction_type"] == rtype and
                (r["emoji_code"] == code if code is not None else r["emoji_name"] == name)]
        if op == "add":
            if same:
                raise ApiError("Reaction already exists.", "REACTION_ALREADY_EXISTS")
            if code is None:
                code = EMOJI.get(name) or hashlib.sha1(name.encode()).hexdigest()[:5]
            r = {"user_id": uid, "emoji_name": name, "emoji_code": code,
                 "reaction_type": rtype}
            m["reactions"].append(r)
        else:
            if not same:
                raise ApiError("Reaction doesn't exist.", "REACTION_DOES_NOT_EXIST")
            r = same[0]
            m["reactions"].remove(r)
        u = USERS[uid]
        for q in self.queues.values():
            if q.wants("reaction") and q.sees(m):
                q.push({"type": "reaction", "op": op, "user_id": uid,
                        "user": {"user_id": uid, "email": u["email"],
                                 "full_name": u["full_name"]},
                        "message_id": mid, "emoji_name": r["emoji_name"],
                        "emoji_code": r["emoji_code"],
                        "reaction_type": r["reaction_type"]})
        self.cond.notify_all()

    def rate_check(self, uid, count):
        """Sliding 60 s window.  -> (headers, retry_after or None)."""
        now, limit = time.time(), ARGS.rate_limit
        dq = self.rate[uid]
        while dq and dq[0] <= now - 60:
            dq.popleft()
        retry = None
        if count:
            if len(dq) >= limit:
                retry = dq[0] + 60 - now
            else:
                dq.append(now)
        reset = dq[-1] + 60 if dq else now
        return [("X-RateLimit-Limit", str(limit)),
                ("X-RateLimit-Remaining", str(max(0, limit - len(dq)))),
                ("X-RateLimit-Reset", "%.3f" % reset)], retry

    def take_fault(self, method, target):
        for f in self.faults:
            if (f["path"] is None or f["path"] in target) and \
               (f["method"] is None or f["method"] == method):
                f["count"] -= 1
                if f["count"] <= 0:
                    self.faults.remove(f)
                return dict(f)
        return None

    def expire_idle(self):
        now = time.time()
        for qid, q in list(self.queues.items()):
            if q.pollers == 0 and now - q.last_poll > 600:
                q.dead = True
                del self.queues[qid]


S = None


# ------------------------------------------------------------ API parameters
class Req:
    def __init__(self, uid, params, args, agent):
        self.uid, self.p, self.args, self.agent = uid, params, args, agent


def required(r, name):
    if name not in r.p:
        raise ApiError("Missing '%s' argument" % name, "REQUEST_VARIABLE_MISSING",
                       var_name=name)
    return r.p[name]


def jparam(r, name, default, typ=None, tname=""):
    """A form field that carries JSON text."""
    if name not in r.p:
        return default
    try:
        v = json.loads(r.p[name])
    except ValueError:
        raise ApiError('Argument "%s" is not valid JSON.' % name)
    if typ is not None and (not isinstance(v, typ) or
                            (typ is int and isinstance(v, bool))):
        raise ApiError("%s is not %s" % (name, tname))
    return v


def jbool(r, name, default):
    return jparam(r, name, default, bool, "a boolean")


def jint(r, name, default):
    return jparam(r, name, default, int, "an integer")


def jstrlist(r, name):
    v = jparam(r, name, None, list, "a list")
    for i, x in enumerate(v or []):
        if not isinstance(x, str):
            raise ApiError("%s[%d] is not a string" % (name, i))
    return v


# ------------------------------------------------------------- API handlers
def api_register(r):
    event_types = jstrlist(r, "event_types")
    fetch = jstrlist(r, "fetch_event_types")
    narrow_raw = jparam(r, "narrow", [], list, "a list")
    narrow = parse_narrow(narrow_raw, strict=False)
    markdown = jbool(r, "apply_markdown", False)
    jbool(r, "client_gravatar", True)
    all_public = jbool(r, "all_public_streams", False)
    jparam(r, "client_capabilities", {}, dict, "a dict")
    fetch = event_types if fetch is None else fetch
    want = lambda t: fetch is None or t in fetch
    q = Queue(event_types, narrow_raw, narrow, markdown, all_public)
    with S.lock:
        S.queues[q.queue_id] = q
        ret = {"queue_id": q.queue_id, "last_event_id": -1,
               "zulip_feature_level": 400, "zulip_version": "11.0",
               "zulip_merge_base": "11.0",
               "max_message_id": max(S.msgs) if S.msgs else -1,
               "event_queue_longpoll_timeout_seconds": ARGS.longpoll_timeout,
               "max_message_length": ARGS.max_message_length,
               "max_topic_length": ARGS.max_topic_length,
               "max_stream_name_length": 60,
               "realm_message_content_edit_limit_seconds": ARGS.edit_limit}
    if want("realm_user"):
        me = user_json(USERS[BOT_ID])
        ret["realm_users"] = [user_json(u) for u in USERS.values()]
        ret.update({k: me[k] for k in ("user_id", "email", "delivery_email",
                                       "full_name", "is_admin", "is_owner",
                                       "is_guest", "avatar_url")})
        ret["is_moderator"] = False
    if want("subscription"):
        ret["subscriptions"] = [stream_json(s) for s in sorted(SUBSCRIBED)]
        ret["unsubscribed"] = []
        ret["never_subscribed"] = [stream_json(s) for s in STREAMS if s not in SUBSCRIBED]
    return ret


def api_get_events(r):
    qid = required(r, "queue_id")
    last = jint(r, "last_event_id", None)
    dont_block = jbool(r, "dont_block", False)
    with S.cond:
        q = S.queues.get(qid)
        if q is None:
            raise bad_queue(qid)
        if last is not None:
            q.events = [e for e in q.events if e["id"] > last]
        q.pollers += 1
        q.last_poll = time.time()
        try:
            deadline = time.time() + ARGS.heartbeat
            while not q.events and not dont_block and not q.dead and not STOP.is_set():
                left = deadline - time.time()
                if left <= 0:
                    q.push({"type": "heartbeat"})
                    break
                S.cond.wait(left)
            if q.dead:
                raise bad_queue(qid)
            events = list(q.events)
        finally:
            q.pollers -= 1
            q.last_poll = time.time()
    return {"events": events, "queue_id": qid}


def api_delete_queue(r):
    qid = required(r, "queue_id")
    with S.cond:
        q = S.queues.pop(qid, None)
        if q is None:
            raise bad_queue(qid)
        q.dead = True
        S.cond.notify_all()
    return {}


def api_me(r):
    d = user_json(USERS[r.uid])
    with S.lock:
        d["max_message_id"] = max(S.msgs) if S.msgs else -1
    return d


def api_users(r):
    return {"members": [user_json(u) for u in USERS.values()]}


def api_user(r):
    uid = find_user(r.args[0])
    if uid is None:
        raise ApiError("No such user")
    return {"user": user_json(USERS[uid])}


def api_subscriptions(r):
    return {"subscriptions": [stream_json(s) for s in sorted(SUBSCRIBED)]}


def api_streams(r):
    return {"streams": [stream_json(s) for s in sorted(STREAMS)]}


def api_get_stream_id(r):
    name = required(r, "stream")
    sid = find_stream(name)
    if sid is None:
        raise ApiError("Invalid channel name '%s'" % name, "STREAM_DOES_NOT_EXIST",
                       stream=name)
    return {"stream_id": sid}


def resolve_channel(raw):
    try:
        v = json.loads(raw)
    except ValueError:
        v = raw
    if isinstance(v, list) and len(v) == 1:
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ApiError("Invalid 'to' for a channel message")
    sid = find_stream(v)
    if sid is None and isinstance(v, int):
        raise ApiError("Channel with ID '%d' does not exist" % v,
                       "STREAM_WITH_ID_DOES_NOT_EXIST", stream_id=v)
    if sid is None:
        raise ApiError("Channel '%s' does not exist" % v, "STREAM_DOES_NOT_EXIST",
                       stream=v)
    return sid


def resolve_users(raw):
    try:
        v = json.loads(raw)
    except ValueError:
        v = [x for x in raw.split(",") if x.strip()]
    v = v if isinstance(v, list) else [v]
    ids = []
    for x in v:
        uid = find_user(x)
        if uid is None:
            if isinstance(x, int) and not isinstance(x, bool):
                raise ApiError("Invalid user ID %d" % x)
            raise ApiError("Invalid email '%s'" % x)
        ids.append(uid)
    if not ids:
        raise ApiError("Message must have recipients")
    return ids


def api_send(r):
    mtype = required(r, "type")
    to = required(r, "to")
    content = check_content(required(r, "content"))
    client = (r.agent.split("/")[0] or "API") if r.agent else "API"
    if mtype in ("stream", "channel"):
        sid = resolve_channel(to)
        topic = r.p.get("topic", r.p.get("subject"))
        if topic is None:
            raise ApiError("Missing topic")
        topic, recipients = check_topic(topic), []
    elif mtype in ("direct", "private"):
        sid, topic = None, ""
        recipients = sorted(set(resolve_users(to)) | {r.uid})
    else:
        raise ApiError("Invalid message type")
    local = None
    if "queue_id" in r.p and "local_id" in r.p:
        local = (r.p["queue_id"], r.p["local_id"])
    with S.lock:
        mid = S.new_message(r.uid, "private" if sid is None else "stream", sid, topic,
                            content, recipients, client, time.time(), local)
    return {"id": mid}


def api_get_message(r):
    markdown = jbool(r, "apply_markdown", True)
    with S.lock:
        m = S.msgs.get(int(r.args[0]))
        if m is None or (m["type"] == "private" and BOT_ID not in m["recipients"]):
            raise ApiError("Invalid message(s)")
        d = msg_json(m, markdown)
        d["flags"] = flags_for(m)
        return {"message": d, "raw_content": m["content"]}


def api_edit(r):
    mid = int(r.args[0])
    content = r.p.get("content")
    topic = r.p.get("topic", r.p.get("subject"))
    mode = r.p.get("propagate_mode", "change_one")
    if mode not in ("change_one", "change_later", "change_all"):
        raise ApiError("Invalid propagate_mode")
    with S.cond:
        m = S.msgs.get(mid)
        if m is None:
            raise ApiError("Invalid message(s)")
        if m["sender_id"] != r.uid:
            raise ApiError("You don't have permission to edit this message")
        if content is None and topic is None and "stream_id" not in r.p:
            raise ApiError("Nothing to change")
        if topic is None and mode != "change_one":
            raise ApiError("Invalid propagate_mode without topic edit")
        now = time.time()
        if content is not None:
            if now - m["timestamp"] > ARGS.edit_limit:
                raise ApiError("The time limit for editing this message has past")
            content = check_content(content) if content.strip() else "(deleted)"
        if topic is not None:
            if m["type"] != "stream":
                raise ApiError("Direct messages cannot have topics.")
            topic = check_topic(topic)
        targets = [m]
        if topic is not None and mode != "change_one":
            targets = [x for x in S.msgs.values() if x["type"] == "stream" and
                       x["stream_id"] == m["stream_id"] and
                       x["topic"].lower() == m["topic"].lower() and
                       (mode == "change_all" or x["id"] >= mid)]
        orig_content, orig_topic = m["content"], m["topic"]
        before = {q.queue_id for q in S.queues.values() if q.sees(m)}
        for x in targets:
            new_c = content if (x is m and content is not None) else x["content"]
            new_t = topic if topic is not None else x["topic"]
            x["edits"].append({"t": now, "user_id": r.uid,
                               "prev_content": x["content"], "prev_topic": x["topic"],
                               "content": new_c, "topic": new_t})
            x["content"], x["topic"] = new_c, new_t
        for q in S.queues.values():
            if not q.wants("update_message") or not (q.queue_id in before or q.sees(m)):
                continue
            ev = {"type": "update_message", "user_id": r.uid,
                  "edit_timestamp": int(now), "message_id": mid,
                  "message_ids": [x["id"] for x in targets],
                  "flags": flags_for(m), "rendering_only": False}
            if content is not None:
                ev.update(orig_content=orig_content,
                          orig_rendered_content=render(orig_content, True),
                          content=m["content"],
                          rendered_content=render(m["content"], True),
                          prev_rendered_content_version=1,
                          is_me_message=m["content"].startswith("/me "))
            if topic is not None:
                ev.update(stream_id=m["stream_id"], stream_name=STREAMS[m["stream_id"]],
                          orig_subject=orig_topic, subject=m["topic"],
                          topic_links=[], propagate_mode=mode)
            q.push(ev)
        S.cond.notify_all()
    return {"detached_uploads": []}


def parse_anchor(r):
    raw = r.p.get("anchor")
    if raw is None:
        if jbool(r, "use_first_unread_anchor", False):
            raw = "first_unread"
        else:
            required(r, "anchor")
    raw = raw.strip('"')
    if raw in ("newest", "first_unread"):
        return LARGER_THAN_MAX_MESSAGE_ID, False, True
    if raw == "oldest":
        return 0, True, False
    if re.fullmatch(r"-?\d+", raw):
        return int(raw), False, False
    raise ApiError("Invalid anchor")


def api_get_messages(r):
    anchor, to_left, to_right = parse_anchor(r)
    nb, na = jint(r, "num_before", None), jint(r, "num_after", None)
    if nb is None:
        required(r, "num_before")
    if na is None:
        required(r, "num_after")
    if nb < 0 or na < 0:
        raise ApiError("num_before and num_after must be non-negative")
    if nb + na > 5000:
        raise ApiError("Too many messages requested (maximum 5000).")
    include_anchor = jbool(r, "include_anchor", True)
    narrow = parse_narrow(jparam(r, "narrow", [], list, "a list"), strict=True)
    markdown = jbool(r, "apply_markdown", True)
    in_channel = any(op == "channel" and not neg for op, _, neg in narrow)
    with S.lock:
        rows = [m for m in S.msgs.values()
                if (BOT_ID in m["recipients"] if m["type"] == "private"
                    else in_channel or m["stream_id"] in SUBSCRIBED)
                and narrow_matches(m, narrow)]
        if to_left:
            nb = 0
        if to_right:
            na = 0
        before = [m for m in rows if m["id"] < anchor][-nb:] if nb else []
        at = [m for m in rows if m["id"] == anchor] if include_anchor else []
        after = [m for m in rows if m["id"] > anchor][:na] if na else []
        out = []
        for m in before + at + after:
            d = msg_json(m, markdown)
            d["flags"] = flags_for(m)
            out.append(d)
    return {"anchor": anchor, "found_anchor": bool(at),
            "found_oldest": to_left or len(before) < nb,
            "found_newest": to_right or len(after) < na,
            "history_limited": False, "messages": out}


def api_reaction(r, op):
    name, code = r.p.get("emoji_name"), r.p.get("emoji_code")
    if op == "add":
        required(r, "emoji_name")
    elif name is None and code is None:
        raise ApiError("At least one of the following arguments must be "
                       "present: emoji_name, emoji_code")
    with S.lock:
        S.react(r.uid, int(r.args[0]), name, code, r.p.get("reaction_type"), op)
    return {}


def api_server_settings(r):
    return {"zulip_version": "11.0", "zulip_feature_level": 400,
            "zulip_merge_base": "11.0", "push_notifications_enabled": False,
            "realm_uri": "https://127.0.0.1:%d" % ARGS.port,
            "realm_url": "https://127.0.0.1:%d" % ARGS.port,
            "realm_name": "sbxd test", "authentication_methods": {"password": True}}


ROUTES = [(re.compile(p), m) for p, m in [
    (r"/register", {"POST": api_register}),
    (r"/events", {"GET": api_get_events, "DELETE": api_delete_queue}),
    (r"/users/me", {"GET": api_me}),
    (r"/users/me/subscriptions", {"GET": api_subscriptions}),
    (r"/users", {"GET": api_users}),
    (r"/users/([^/]+)", {"GET": api_user}),
    (r"/streams", {"GET": api_streams}),
    (r"/get_stream_id", {"GET": api_get_stream_id}),
    (r"/messages", {"GET": api_get_messages, "POST": api_send}),
    (r"/messages/(\d+)", {"GET": api_get_message, "PATCH": api_edit}),
    (r"/messages/(\d+)/reactions", {"POST": lambda r: api_reaction(r, "add"),
                                    "DELETE": lambda r: api_reaction(r, "remove")}),
    (r"/server_settings", {"GET": api_server_settings}),
]]


# ------------------------------------------------------------- HTTP plumbing
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True    # headers and body are two writes
    timeout = 600                     # idle keep-alive connections

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(n) if n else b""

    def send_body(self, status, body, ctype, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj, headers=()):
        self.send_body(status, json.dumps(obj).encode(), "application/json", headers)


class ApiHandler(Handler):
    def do_GET(self):
        self.api()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def api(self):
        t0 = time.time()
        url = urlsplit(self.path)
        entry = {"t": t0, "method": self.command, "path": url.path,
                 "query": url.query, "status": None, "user": None}
        with S.lock:
            S.requests.append(entry)
            S.n_requests += 1
            S.expire_idle()
        try:
            status = self.api_request(url, entry)
        except (OSError, ssl.SSLError) as e:       # client went away
            status = "dropped (%s)" % e.__class__.__name__
            self.close_connection = True
        with S.lock:
            entry["status"] = status if isinstance(status, int) else None
        log("API %s %s -> %s user=%s %dms" % (self.command, self.path[:160], status,
                                             entry["user"], (time.time() - t0) * 1000))

    def api_request(self, url, entry):
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.send_json(400, ApiError("Malformed request body").body())
            return 400
        params, perr = {}, None
        try:
            params.update(parse_qsl(url.query, keep_blank_values=True))
            if body:
                if "multipart/" in self.headers.get("Content-Type", ""):
                    raise ApiError("multipart bodies are not supported by fake_zulip")
                params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            perr = ApiError("Request body is not valid UTF-8")
        except ApiError as e:
            perr = e
        uid, autherr = self.authenticate()
        with S.lock:
            entry["user"] = uid
            fault = S.take_fault(self.command, self.path)
            headers, _ = S.rate_check(uid or BOT_ID, False)
        if fault:
            return self.fault(fault, params, headers)
        path = url.path
        if not path.startswith("/api/v1/"):
            self.send_json(404, {"result": "error", "msg": "Not Found", "code": "BAD_REQUEST"},
                           headers)
            return 404
        sub = path[len("/api/v1"):].rstrip("/") or "/"
        for rx, methods in ROUTES:
            mt = rx.fullmatch(sub)
            if mt:
                break
        else:
            self.send_json(404, {"result": "error", "msg": "Not Found", "code": "BAD_REQUEST"},
                           headers)
            return 404
        if self.command not in methods:
            self.send_json(405, {"result": "error", "msg": "Method Not Allowed",
                                 "allowed_methods": sorted(methods)}, headers)
            return 405
        if sub != "/server_settings":
            if autherr:
                self.send_json(401, autherr.body(),
                               headers + [("WWW-Authenticate", 'Basic realm="zulip"')])
                return 401
            # GET /events is not counted: see the module docstring.
            with S.lock:
                headers, retry = S.rate_check(uid, sub != "/events")
                if retry is not None:
                    S.n_limited += 1
            if retry is not None:
                return self.send_429(retry, headers)
        try:
            if perr:
                raise perr
            ret = methods[self.command](Req(uid, params, mt.groups(),
                                            self.headers.get("User-Agent", "")))
            status, obj = 200, {"result": "success", "msg": ""}
            obj.update(ret)
        except ApiError as e:
            status, obj = e.status, e.body()
        except Exception as e:                      # a bug in the fake
            import traceback
            traceback.print_exc()
            status, obj = 500, {"result": "error", "code": "BAD_REQUEST",
                                "msg": "Internal server error: %r" % e}
        self.send_json(status, obj, headers)
        return status

    def authenticate(self):
        h = self.headers.get("Authorization")
        if not h:
            return None, ApiError("Missing 'Authorization' header.", "UNAUTHORIZED", 401)
        scheme, _, cred = h.strip().partition(" ")
        if scheme.lower() != "basic":
            return None, ApiError("This endpoint requires HTTP basic authentication.",
                                  "UNAUTHORIZED", 401)
        try:
            email, _, key = base64.b64decode(cred.strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, ApiError("Invalid authorization header for basic auth",
                                  "UNAUTHORIZED", 401)
        with S.lock:
            good = secrets.compare_digest(key.encode(), S.api_key.encode())
        if not good or find_user(email) != BOT_ID:
            return None, ApiError("Invalid API key", "INVALID_API_KEY", 401)
        return BOT_ID, None

    def send_429(self, retry, headers):
        self.send_json(429, {"result": "error", "msg": "API usage exceeded rate limit",
                             "code": "RATE_LIMIT_HIT", "retry-after": round(retry, 3)},
                       headers + [("Retry-After", "%g" % round(retry, 3))])
        return 429

    def fault(self, f, params, headers):
        mode = f["mode"]
        if mode == "429":
            with S.lock:
                S.n_limited += 1
            return self.send_429(f["retry_after"], headers)
        if mode == "401":
            self.send_json(401, ApiError("Invalid API key", "INVALID_API_KEY").body(),
                           headers + [("WWW-Authenticate", 'Basic realm="zulip"')])
            return 401
        if mode in ("500", "502"):
            title = "500 Internal Server Error" if mode == "500" else "502 Bad Gateway"
            self.send_body(int(mode), HTML_PAGE.format(title).encode(), "text/html", headers)
            return int(mode)
        if mode == "html200":
            page = "<!DOCTYPE html><html><head><title>Log in | Zulip</title></head>" \
                   "<body><form>Log in</form></body></html>\n"
            self.send_body(200, page.encode(), "text/html; charset=utf-8", headers)
            return 200
        if mode == "badjson":
            self.send_body(200, b'{"result": "succ', "application/json", headers)
            return 200
        if mode == "bad_queue":
            qid = params.get("queue_id", "")
            self.send_json(400, bad_queue(qid).body(), headers)
            return 400
        if mode == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "200")
            self.end_headers()
            self.wfile.write(b'{"result": "success"')     # 20 bytes
            self.wfile.flush()
            self.close_connection = True
            return 200
        # hang: the request has been read; say nothing until stopped
        STOP.wait(600)
        self.close_connection = True
        return "hang"


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, addr, handler, ctx):
        super().__init__(addr, handler)
        self.ctx = ctx

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread.
        request.settimeout(15)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            log("TLS handshake from %s failed: %s" % (client_address[0], e))
            return
        try:
            tls.settimeout(None)
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


class PlainServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


# -------------------------------------------------------------- test control
class CtlError(Exception):
    pass


def ctl_post(d):
    sender = d.get("sender_id")
    if sender not in USERS:
        raise CtlError("unknown sender_id %r" % sender)
    content = d.get("content")
    if not isinstance(content, str):
        raise CtlError("content must be a string")
    ts = time.time() - float(d.get("age", 0))
    if d.get("type", "stream") in ("direct", "private"):
        to = d.get("to", [BOT_ID])
        to = to if isinstance(to, list) else [to]
        if any(x not in USERS for x in to):
            raise CtlError("unknown user in to")
        recipients = sorted(set(to) | {sender})
        sid, topic = None, ""
    else:
        sid = find_stream(d.get("stream", "sandboxes"))
        if sid is None:
            raise CtlError("unknown stream %r" % d.get("stream"))
        topic, recipients = str(d.get("topic", "test")), []
    with S.lock:
        mid = S.new_message(sender, "private" if sid is None else "stream", sid, topic,
                            content, recipients, "test", ts)
    return {"id": mid}


def ctl_react(d):
    uid = d.get("user_id")
    if uid not in USERS:
        raise CtlError("unknown user_id %r" % uid)
    op = d.get("op", "add")
    if op not in ("add", "remove"):
        raise CtlError("op must be add or remove")
    with S.lock:
        S.react(uid, int(d.get("message_id", 0)), d.get("emoji_name"),
                d.get("emoji_code"), d.get("reaction_type"), op)
    return {"ok": True}


def ctl_messages(q):
    out = []
    with S.lock:
        for m in S.msgs.values():
            if "sender_id" in q and str(m["sender_id"]) != q["sender_id"]:
                continue
            if "topic" in q and m["topic"] != q["topic"]:
                continue
            if "stream" in q and (m["type"] != "stream" or
                                  m["stream_id"] != find_stream(q["stream"])):
                continue
            out.append({"id": m["id"], "sender_id": m["sender_id"], "type": m["type"],
                        "stream": STREAMS.get(m["stream_id"]), "topic": m["topic"],
                        "content": m["content"], "timestamp": m["timestamp"],
                        "received": m["received"],
                        "edits": [dict(e) for e in m["edits"]],
                        "reactions": [{"user_id": r["user_id"],
                                       "emoji_name": r["emoji_name"],
                                       "emoji_code": r["emoji_code"]}
                                      for r in m["reactions"]]})
    return {"messages": out}


def ctl_expire(d):
    with S.cond:
        n = len(S.queues)
        for q in S.queues.values():
            q.dead = True
        S.queues.clear()
        S.cond.notify_all()
    return {"expired": n}


def ctl_fail(d):
    mode = str(d.get("mode", ""))
    with S.lock:
        if mode == "clear":
            n = len(S.faults)
            S.faults.clear()
            return {"ok": True, "cleared": n}
        if mode not in FAULT_MODES:
            raise CtlError("unknown mode %r (one of %s, clear)" % (mode, sorted(FAULT_MODES)))
        path = d.get("path", "/api/v1/events" if mode == "bad_queue" else "/api/v1/")
        S.faults.append({"mode": mode, "count": int(d.get("count", 1)),
                         "path": path, "method": d.get("method"),
                         "retry_after": float(d.get("retry_after", 2))})
        return {"ok": True, "pending": len(S.faults)}


def ctl_auth(d):
    if not isinstance(d.get("key"), str):
        raise CtlError("key must be a string")
    with S.lock:
        S.api_key = d["key"]
    return {"ok": True}


def ctl_move(d):
    """A person renames a topic: PATCH as the message's sender."""
    if not isinstance(d.get("message_id"), int) or \
            not isinstance(d.get("topic"), str):
        raise CtlError("message_id (int) and topic (string) are needed")
    with S.lock:
        m = S.msgs.get(d["message_id"])
        if m is None:
            raise CtlError("no such message")
        uid = m["sender_id"]
    try:
        api_edit(Req(uid, {"topic": d["topic"], "propagate_mode":
                           d.get("propagate_mode", "change_all")},
                     [str(d["message_id"])], "test"))
    except ApiError as e:
        raise CtlError(str(e))
    return {"ok": True}


def ctl_ratelimit(d):
    if not isinstance(d.get("limit"), int) or d["limit"] < 1:
        raise CtlError("limit must be a positive integer")
    with S.lock:
        ARGS.rate_limit = d["limit"]
        S.rate.clear()
    return {"ok": True}


def ctl_log(d):
    with S.lock:
        return {"requests": [dict(e) for e in S.requests]}


def ctl_log_clear(d):
    with S.lock:
        S.requests.clear()
    return {"ok": True}


def ctl_stats(d):
    with S.lock:
        return {"queues": len(S.queues), "requests": S.n_requests,
                "rate_limited": S.n_limited, "messages": len(S.msgs)}


def ctl_queues(d):
    with S.lock:
        return [{"queue_id": q.queue_id, "event_types": q.event_types_raw,
                 "narrow": q.narrow_raw, "pending": len(q.events),
                 "last_poll": q.last_poll, "pollers": q.pollers}
                for q in S.queues.values()]


CONTROL = {("POST", "/post"): ctl_post, ("POST", "/react"): ctl_react,
           ("GET", "/messages"): ctl_messages, ("POST", "/expire"): ctl_expire,
           ("POST", "/fail"): ctl_fail, ("POST", "/auth"): ctl_auth,
           ("POST", "/ratelimit"): ctl_ratelimit, ("POST", "/move"): ctl_move,
           ("GET", "/log"): ctl_log, ("POST", "/log/clear"): ctl_log_clear,
           ("GET", "/stats"): ctl_stats, ("GET", "/queues"): ctl_queues,
           ("GET", "/"): lambda d: {"ok": True}}


class ControlHandler(Handler):
    def do_GET(self):
        self.control()

    do_POST = do_GET

    def control(self):
        url = urlsplit(self.path)
        try:
            body = self.read_body()
            fn = CONTROL.get((self.command, url.path.rstrip("/") or "/"))
            if fn is None:
                self.send_json(404, {"error": "no such control endpoint"})
                return
            if self.command == "GET":
                data = dict(parse_qsl(url.query))
            else:
                data = json.loads(body) if body.strip() else {}
                if not isinstance(data, dict):
                    raise CtlError("the body must be a JSON object")
            status, ret = 200, fn(data)
        except ApiError as e:
            status, ret = 400, {"error": e.msg, "code": e.code}
        except (CtlError, ValueError, TypeError, KeyError) as e:
            status, ret = 400, {"error": "%s: %s" % (e.__class__.__name__, e)}
        log("control %s %s -> %d" % (self.command, self.path, status))
        self.send_json(status, ret)


# ---------------------------------------------------------------------- main
def main():
    global ARGS, S
    ap = argparse.ArgumentParser(description="fake Zulip server for sbxd tests")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--control-port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--api-key-file", required=True)
    ap.add_argument("--heartbeat", type=float, default=45)
    ap.add_argument("--longpoll-timeout", type=int, default=90)
    ap.add_argument("--max-message-length", type=int, default=10000)
    ap.add_argument("--max-topic-length", type=int, default=60)
    ap.add_argument("--edit-limit", type=float, default=600)
    ap.add_argument("--rate-limit", type=int, default=200)
    ap.add_argument("--ready-file")
    ARGS = ap.parse_args()
    with open(ARGS.api_key_file) as f:
        S = State(f.readline().strip())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    api = TLSServer(("127.0.0.1", ARGS.port), ApiHandler, ctx)
    ctl = PlainServer(("127.0.0.1", ARGS.control_port), ControlHandler)
    for srv in (api, ctl):
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *a: STOP.set())
    signal.signal(signal.SIGINT, lambda *a: STOP.set())
    log("listening: api https://127.0.0.1:%d control http://127.0.0.1:%d"
        % (api.server_address[1], ctl.server_address[1]))
    if ARGS.ready_file:
        with open(ARGS.ready_file + ".tmp", "w") as f:
            f.write("ok\n")
        os.replace(ARGS.ready_file + ".tmp", ARGS.ready_file)
    while not STOP.wait(0.5):
        pass
    with S.cond:
        S.cond.notify_all()                 # wake the long polls
    for srv in (api, ctl):
        srv.shutdown()
        srv.server_close()
    log("stopped")


if __name__ == "__main__":
    main()
