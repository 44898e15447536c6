#!/usr/bin/python3
# fake_agent.py: a stand-in coding-agent CLI for the integration tests.
# It speaks the machine-readable stream of the CLI named by FAKE_AGENT
# (claude, codex, opencode, gemini; command: plain text), in the shapes
# of the golden files recorded from the real CLIs, takes its prompt on
# stdin as each of them does, resumes a session with each one's flag,
# and misbehaves on request, by words in the prompt:
#   TOOL     a tool use (a shell command that writes tool.out in $HOME)
#   SLOW     text every 0.2 s for 60 s (something to interrupt)
#   STUBBORN ignores SIGINT and SIGTERM, and forks a daemon that does too
#   GARBAGE  a line that is not JSON
#   FLOOD    2 MiB without a newline
#   CRASH    exits 3 before the end of its turn
#   LINGER   stays after its last line (as opencode does)
#   FAIL     ends its turn with an error
#   STDERR   writes a line on stderr first
#   PARAS    eight paragraphs, one every 0.3 s
#   ECHOALL  echoes the whole prompt, not its first 200 characters
# Every prompt is also saved byte for byte in $HOME/prompts/N.
import json
import os
import signal
import sys
import threading
import time
import uuid

kind = os.environ.get("FAKE_AGENT", "claude")
home = os.environ.get("HOME", "/tmp")
argv = sys.argv[1:]
out_lock = threading.Lock()


def emit(obj):
    with out_lock:
        if isinstance(obj, str):
            sys.stdout.write(obj)
        else:
            sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def arg_after(flag):
    if flag in argv:
        i = argv.index(flag)
        if i + 1 < len(argv):
            return argv[i + 1]
    return None


def save_prompt(data):
    d = os.path.join(home, "prompts")
    os.makedirs(d, exist_ok=True)
    n = len([f for f in os.listdir(d) if "." not in f]) + 1
    with open(os.path.join(d, str(n)), "wb") as f:
        f.write(data)
    with open(os.path.join(d, "%d.argv" % n), "w") as f:
        f.write("\n".join(sys.argv) + "\n")
    with open(os.path.join(d, "%d.env" % n), "w") as f:
        f.write("\n".join("%s=%s" % kv for kv in sorted(os.environ.items()))
                + "\n")


def session_turns(sid):
    d = os.path.join(home, ".fake-agent")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, sid)
    n = int(open(p).read()) + 1 if os.path.exists(p) else 1
    with open(p, "w") as f:
        f.write(str(n))
    return n


interrupted = threading.Event()
stdin_closed = threading.Event()

# The prompt, as each CLI takes it.
if kind == "claude":
    line = sys.stdin.buffer.readline()
    msg = json.loads(line)
    prompt = msg["message"]["content"].encode()

    def control():
        for l in sys.stdin:
            try:
                m = json.loads(l)
            except ValueError:
                continue
            if m.get("type") == "control_request" and \
                    m.get("request", {}).get("subtype") == "interrupt":
                emit({"type": "control_response", "response": {
                    "subtype": "success",
                    "request_id": m.get("request_id")}})
                interrupted.set()
        stdin_closed.set()
    threading.Thread(target=control, daemon=True).start()
else:
    prompt = sys.stdin.buffer.read()
save_prompt(prompt)
text = prompt.decode("utf-8", "replace")

if kind == "claude":
    resume = arg_after("--resume")
elif kind == "codex":
    resume = arg_after("resume")
elif kind == "opencode":
    resume = arg_after("--session")
elif kind == "gemini":
    resume = arg_after("--resume")
else:
    resume = None
sid = resume or str(uuid.uuid4())
turn = session_turns(sid)

if "STDERR" in text:
    sys.stderr.write("fake_agent: a warning on stderr\n")
    sys.stderr.flush()
if "STUBBORN" in text:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(os.path.join(home, "daemon.pid"), "w") as f:
                f.write(str(os.getpid()))
            while True:
                time.sleep(1)
        os._exit(0)

reply = "echo: %s (turn %d)" % (text if "ECHOALL" in text else text[:200],
                                turn)


def start():
    if kind == "claude":
        emit({"type": "system", "subtype": "init", "session_id": sid,
              "cwd": os.getcwd(), "tools": ["Bash"], "model": "fake"})
    elif kind == "codex":
        emit({"type": "thread.started", "thread_id": sid})
        emit({"type": "turn.started"})
    elif kind == "gemini":
        emit({"type": "init", "timestamp": "2026-01-01T00:00:00Z",
              "session_id": sid, "model": "fake"})


def say(s):
    if kind == "claude":
        emit({"type": "assistant", "session_id": sid, "message": {
            "id": "msg_1", "role": "assistant", "model": "fake",
            "content": [{"type": "text", "text": s}],
            "usage": {"input_tokens": 10, "output_tokens": 5}}})
    elif kind == "codex":
        emit({"type": "item.completed", "item": {
            "id": "item_1", "type": "agent_message", "text": s}})
    elif kind == "opencode":
        emit({"type": "text", "timestamp": 1, "sessionID": sid,
              "part": {"type": "text", "text": s,
                       "time": {"start": 1, "end": 2}}})
    elif kind == "gemini":
        emit({"type": "message", "timestamp": "2026-01-01T00:00:00Z",
              "role": "assistant", "content": s, "delta": True})
    else:
        emit(s + "\n")


def tool():
    cmd = "printf done > tool.out"
    with open(os.path.join(home, "tool.out"), "w") as f:
        f.write("done")
    if kind == "claude":
        emit({"type": "assistant", "session_id": sid, "message": {
            "content": [{"type": "tool_use", "id": "toolu_1",
                         "name": "Bash", "input": {"command": cmd}}]}})
        emit({"type": "user", "session_id": sid, "message": {
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                         "content": "", "is_error": False}]}})
    elif kind == "codex":
        item = {"id": "item_2", "type": "command_execution",
                "command": "bash -lc '%s'" % cmd, "aggregated_output": "",
                "status": "in_progress"}
        emit({"type": "item.started", "item": item})
        item = dict(item, status="completed", exit_code=0)
        emit({"type": "item.completed", "item": item})
    elif kind == "opencode":
        emit({"type": "tool_use", "timestamp": 1, "sessionID": sid,
              "part": {"type": "tool", "tool": "bash", "state": {
                  "status": "completed", "title": cmd,
                  "input": {"command": cmd}, "output": ""}}})
    elif kind == "gemini":
        emit({"type": "tool_use", "timestamp": "2026-01-01T00:00:00Z",
              "tool_name": "run_shell_command", "tool_id": "t1",
              "parameters": {"command": cmd}})
        emit({"type": "tool_result", "timestamp": "2026-01-01T00:00:00Z",
              "tool_id": "t1", "status": "success", "output": ""})
    else:
        emit("[tool] " + cmd + "\n")


def end(ok=True, aborted=False):
    err = "the fake model failed"
    if kind == "claude":
        r = {"type": "result", "subtype": "success", "is_error": not ok,
             "duration_ms": 12, "num_turns": 1, "session_id": sid,
             "total_cost_usd": 0.0123, "result": reply if ok else err,
             "usage": {"input_tokens": 100, "output_tokens": 20,
                       "cache_read_input_tokens": 5,
                       "cache_creation_input_tokens": 0}}
        if aborted:
            r["terminal_reason"] = "aborted_streaming"
        emit(r)
    elif kind == "codex":
        if ok:
            emit({"type": "turn.completed", "usage": {
                "input_tokens": 100, "cached_input_tokens": 0,
                "output_tokens": 20}})
        else:
            emit({"type": "error", "message": err})
            emit({"type": "turn.failed", "error": {"message": err}})
    elif kind == "opencode" and not ok:
        emit({"type": "error", "timestamp": 1, "sessionID": sid,
              "error": {"name": "APIError", "data": {"message": err}}})
    elif kind == "opencode":
        emit({"type": "step_finish", "timestamp": 1, "sessionID": sid,
              "part": {"type": "step-finish", "reason": "stop",
                       "cost": 0.01, "tokens": {"input": 100, "output": 20,
                                                "reasoning": 0,
                                                "cache": {"read": 0,
                                                          "write": 0}}}})
        if not ok:
            emit({"type": "error", "timestamp": 1, "sessionID": sid,
                  "error": {"name": "APIError", "data": {"message": err}}})
        emit({"type": "done", "timestamp": 1, "sessionID": sid,
              "reason": "idle", "rejected": []})
    elif kind == "gemini":
        emit({"type": "result", "timestamp": "2026-01-01T00:00:00Z",
              "status": "success" if ok else "error",
              "error": None if ok else {"type": "api", "message": err},
              "stats": {"total_tokens": 120, "input_tokens": 100,
                        "output_tokens": 20, "duration_ms": 12,
                        "tool_calls": 0}})


start()
if "GARBAGE" in text:
    emit("this is not json\n")
    time.sleep(30)
if "FLOOD" in text:
    chunk = "x" * 65536
    for i in range(40):
        emit(chunk)
    time.sleep(30)
if "CRASH" in text:
    say("about to crash")
    sys.stdout.flush()
    os._exit(3)
if "TOOL" in text:
    tool()
if "PARAS" in text:
    for i in range(1, 9):
        say("para %d\n\n" % i)
        time.sleep(0.3)
if "SLOW" in text or "STUBBORN" in text:
    try:
        for i in range(300):
            if interrupted.is_set() and "STUBBORN" not in text:
                break
            say("tick %d\n" % i)
            time.sleep(0.2)
    except KeyboardInterrupt:
        sys.exit(130)
    if interrupted.is_set() and kind == "claude":
        end(True, aborted=True)
        # claude waits for stdin to close, then exits.
        stdin_closed.wait(60)
        sys.exit(0)
say(reply)
end(ok="FAIL" not in text)
if kind == "command" and "FAIL" in text:
    sys.exit(2)
if "LINGER" in text:
    while True:
        time.sleep(1)
if kind == "claude":
    # stream-json input: the CLI stays until its stdin closes.
    stdin_closed.wait(30)
sys.exit(0)
