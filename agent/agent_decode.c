/*
 * agent_decode.c: the stream decoders.  Each coding-agent CLI writes one
 * JSON object per line on stdout (claude -p --output-format stream-json,
 * codex exec --json, opencode run --format json, gemini --output-format
 * stream-json); a "command" agent writes plain text.  A decoder takes
 * one line at a time and turns it into the one event model of
 * agent.h: text, tool (name, a one-line summary, status) and the
 * session id, and keeps what the end needs: whether the turn's last
 * line came, how it went, tokens and cost.  Unknown line types are
 * skipped, as the CLIs' own SDKs do, so that a newer CLI still works;
 * a line that is not a JSON object with a "type" is not a stream we
 * know, and the caller fails the turn with the message given.
 *
 * Success is what the stream says, never the exit status alone: claude's
 * result carries is_error (true with subtype "success" on API errors),
 * codex ends with turn.completed or turn.failed, gemini's result has a
 * status, opencode ends with done after an error or not.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "agent.h"

static const char	*agent_status_names[] = {
	"running", "ok", "failed", "interrupted", "timeout"
};

static void	agent_dec_claude(struct agent_dec *, json_t *, const char *,
		    agent_emitcb, void *);
static void	agent_dec_codex(struct agent_dec *, json_t *, const char *,
		    agent_emitcb, void *);
static void	agent_dec_opencode(struct agent_dec *, json_t *,
		    const char *, agent_emitcb, void *);
static void	agent_dec_gemini(struct agent_dec *, json_t *, const char *,
		    agent_emitcb, void *);
static void	agent_dec_session(struct agent_dec *, const char *,
		    agent_emitcb, void *);
static void	agent_dec_text(const char *, size_t, agent_emitcb, void *);
static void	agent_dec_tool(const char *, json_t *, const char *,
		    agent_emitcb, void *);
static void	agent_dec_tool_emit(const char *, const char *, const char *,
		    agent_emitcb, void *);
static void	agent_dec_tool_start(struct agent_dec *, const char *,
		    const char *, json_t *, agent_emitcb, void *);
static void	agent_dec_tool_end(struct agent_dec *, const char *,
		    const char *, agent_emitcb, void *);
static void	agent_dec_end(struct agent_dec *, enum agent_status,
		    const char *);
static void	agent_summary(json_t *, char *, size_t);
static void	agent_oneline(const char *, char *, size_t);
static int64_t	agent_int(json_t *, const char *);
static size_t	agent_utf8_len(const unsigned char *, size_t);
static const char *agent_str(json_t *, const char *);

const char *
agent_status_name(enum agent_status st)
{
	return (agent_status_names[st]);
}

void
agent_dec_init(struct agent_dec *ad, int type)
{
	memset(ad, 0, sizeof(*ad));
	ad->ad_type = type;
	ad->ad_status = AGENT_RUNNING;
}

void
agent_dec_clear(struct agent_dec *ad)
{
	json_decref(ad->ad_tools);
	ad->ad_tools = NULL;
}

/*
 * One line of output, without its newline.  Returns 0, or -1 with err
 * saying why the stream is not one this agent writes.
 */
int
agent_dec_line(struct agent_dec *ad, const char *line, size_t len,
    agent_emitcb cb, void *arg, char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*o;
	const char	*type;
	char		*text;
	size_t		 i;

	ad->ad_lines++;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (ad->ad_type == AGENT_COMMAND) {
		/* A plain program: each line is text, with its newline. */
		if ((text = malloc(len + 1)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return (-1);
		}
		memcpy(text, line, len);
		text[len] = '\n';
		agent_dec_text(text, len + 1, cb, arg);
		free(text);
		return (0);
	}
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;	/* nothing */
	if (i == len)
		return (0);	/* a blank line says nothing */
	if ((o = json_loadb(line, len, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "output line %llu is not JSON (%s): "
		    "%.*s", (unsigned long long)ad->ad_lines, jerr.text,
		    (int)(len > 80 ? 80 : len), line);
		agent_utf8_fix(err);
		return (-1);
	}
	if (!json_is_object(o) || (type = agent_str(o, "type")) == NULL) {
		snprintf(err, errlen, "output line %llu is not an object with "
		    "a \"type\"", (unsigned long long)ad->ad_lines);
		json_decref(o);
		return (-1);
	}
	if (!ad->ad_done) {
		switch (ad->ad_type) {
		case AGENT_CLAUDE:
			agent_dec_claude(ad, o, type, cb, arg);
			break;
		case AGENT_CODEX:
			agent_dec_codex(ad, o, type, cb, arg);
			break;
		case AGENT_OPENCODE:
			agent_dec_opencode(ad, o, type, cb, arg);
			break;
		case AGENT_GEMINI:
			agent_dec_gemini(ad, o, type, cb, arg);
			break;
		}
	}
	json_decref(o);
	return (0);
}

/*
 * claude: system/init carries the session; assistant messages carry
 * text and tool_use blocks; user messages carry tool_result blocks;
 * result ends the turn.
 */
static void
agent_dec_claude(struct agent_dec *ad, json_t *o, const char *type,
    agent_emitcb cb, void *arg)
{
	json_t		*content, *b, *usage;
	const char	*bt, *s, *name, *why;
	size_t		 i;

	if ((s = agent_str(o, "session_id")) != NULL)
		agent_dec_session(ad, s, cb, arg);
	if (strcmp(type, "assistant") == 0 || strcmp(type, "user") == 0) {
		content = json_object_get(json_object_get(o, "message"),
		    "content");
		if (json_is_string(content) && strcmp(type, "assistant") == 0)
			agent_dec_text(json_string_value(content),
			    json_string_length(content), cb, arg);
		json_array_foreach(content, i, b) {
			if ((bt = agent_str(b, "type")) == NULL)
				continue;
			if (strcmp(bt, "text") == 0 &&
			    strcmp(type, "assistant") == 0 &&
			    json_is_string(json_object_get(b, "text")))
				agent_dec_text(agent_str(b, "text"),
				    json_string_length(json_object_get(b,
				    "text")), cb, arg);
			else if (strcmp(bt, "tool_use") == 0 &&
			    (name = agent_str(b, "name")) != NULL) {
				agent_dec_tool_start(ad, agent_str(b, "id"),
				    name, json_object_get(b, "input"), cb,
				    arg);
			} else if (strcmp(bt, "tool_result") == 0)
				agent_dec_tool_end(ad, agent_str(b,
				    "tool_use_id"), json_is_true(
				    json_object_get(b, "is_error")) ?
				    "failed" : "ok", cb, arg);
		}
		return;
	}
	if (strcmp(type, "result") != 0)
		return;		/* system, stream_event, rate limits, ... */
	usage = json_object_get(o, "usage");
	ad->ad_tokens_in = agent_int(usage, "input_tokens") +
	    agent_int(usage, "cache_creation_input_tokens") +
	    agent_int(usage, "cache_read_input_tokens");
	ad->ad_tokens_out = agent_int(usage, "output_tokens");
	if (json_is_number(json_object_get(o, "total_cost_usd"))) {
		ad->ad_cost = json_number_value(json_object_get(o,
		    "total_cost_usd"));
		ad->ad_has_cost = 1;
	}
	s = agent_str(o, "terminal_reason");
	if (s != NULL && strncmp(s, "aborted", 7) == 0) {
		agent_dec_end(ad, AGENT_INTERRUPTED, s);
		return;
	}
	if (!json_is_true(json_object_get(o, "is_error")) &&
	    (s = agent_str(o, "subtype")) != NULL &&
	    strcmp(s, "success") == 0) {
		agent_dec_end(ad, AGENT_OK, NULL);
		return;
	}
	/* The most precise reason it gives. */
	why = agent_str(o, "result");
	if ((why == NULL || *why == '\0') && json_is_array(json_object_get(o,
	    "errors")))
		why = agent_str(json_array_get(json_object_get(o, "errors"),
		    0), NULL);
	if (why == NULL || *why == '\0')
		why = agent_str(o, "subtype");
	if (json_is_integer(json_object_get(o, "api_error_status")) &&
	    why != NULL) {
		snprintf(ad->ad_lasterr, sizeof(ad->ad_lasterr), "API error "
		    "%lld: %s", (long long)agent_int(o, "api_error_status"),
		    why);
		why = ad->ad_lasterr;
	}
	agent_dec_end(ad, AGENT_FAILED, why != NULL ? why : "is_error");
}

/*
 * codex: thread.started carries the thread id (the resume handle);
 * items are text, commands, file changes and tool calls; the turn ends
 * with turn.completed or turn.failed.
 */
static void
agent_dec_codex(struct agent_dec *ad, json_t *o, const char *type,
    agent_emitcb cb, void *arg)
{
	json_t		*item, *usage, *ch, *c;
	const char	*it, *st, *s;
	char		 name[AGENT_TOOLNAME_MAX], paths[AGENT_SUMMARY_MAX];
	size_t		 i, off = 0;
	int		 started = strcmp(type, "item.started") == 0;

	if (strcmp(type, "thread.started") == 0) {
		if ((s = agent_str(o, "thread_id")) != NULL)
			agent_dec_session(ad, s, cb, arg);
		return;
	}
	if (strcmp(type, "turn.completed") == 0) {
		usage = json_object_get(o, "usage");
		ad->ad_tokens_in = agent_int(usage, "input_tokens");
		ad->ad_tokens_out = agent_int(usage, "output_tokens");
		agent_dec_end(ad, AGENT_OK, NULL);
		return;
	}
	if (strcmp(type, "turn.failed") == 0) {
		s = agent_str(json_object_get(o, "error"), "message");
		agent_dec_end(ad, AGENT_FAILED, s != NULL ? s :
		    *ad->ad_lasterr ? ad->ad_lasterr : "turn.failed");
		return;
	}
	if (strcmp(type, "error") == 0) {
		if ((s = agent_str(o, "message")) != NULL)
			snprintf(ad->ad_lasterr, sizeof(ad->ad_lasterr), "%s",
			    s);
		return;
	}
	if (!started && strcmp(type, "item.completed") != 0)
		return;		/* turn.started, item.updated, deltas */
	item = json_object_get(o, "item");
	if ((it = agent_str(item, "type")) == NULL)
		return;
	st = agent_str(item, "status");
	if (strcmp(it, "agent_message") == 0 && !started) {
		if ((s = agent_str(item, "text")) != NULL)
			agent_dec_text(s, strlen(s), cb, arg);
	} else if (strcmp(it, "command_execution") == 0) {
		agent_dec_tool("command", json_pack("{s:s?}", "command",
		    agent_str(item, "command")), started ? "started" :
		    st != NULL && strcmp(st, "completed") == 0 &&
		    agent_int(item, "exit_code") == 0 ? "ok" : "failed",
		    cb, arg);
	} else if (strcmp(it, "file_change") == 0 && !started) {
		paths[0] = '\0';
		json_array_foreach(json_object_get(item, "changes"), i, ch) {
			if ((s = agent_str(ch, "path")) == NULL ||
			    off >= sizeof(paths))
				continue;
			off += snprintf(paths + off, sizeof(paths) - off,
			    "%s%s %s", off > 0 ? ", " : "",
			    agent_str(ch, "kind") != NULL ?
			    agent_str(ch, "kind") : "update", s);
		}
		c = json_pack("{s:s}", "changes", paths);
		agent_dec_tool("edit", c, st != NULL &&
		    strcmp(st, "failed") == 0 ? "failed" : "ok", cb, arg);
	} else if (strcmp(it, "mcp_tool_call") == 0) {
		snprintf(name, sizeof(name), "%s.%s",
		    agent_str(item, "server") != NULL ? agent_str(item,
		    "server") : "mcp", agent_str(item, "tool") != NULL ?
		    agent_str(item, "tool") : "tool");
		agent_dec_tool(name, json_incref(json_object_get(item,
		    "arguments")), started ? "started" : st != NULL &&
		    strcmp(st, "failed") == 0 ? "failed" : "ok", cb, arg);
	} else if (strcmp(it, "web_search") == 0) {
		agent_dec_tool("web_search", json_pack("{s:s?}", "query",
		    agent_str(item, "query")), started ? "started" : "ok",
		    cb, arg);
	} else if (strcmp(it, "error") == 0 && !started) {
		if ((s = agent_str(item, "message")) != NULL)
			snprintf(ad->ad_lasterr, sizeof(ad->ad_lasterr), "%s",
			    s);
	}
}

/*
 * opencode: every line carries the session; text parts come whole; a
 * tool_use line is a finished tool; step_finish carries tokens and
 * cost, and the last step (reason "stop") ends the turn, as done did in
 * earlier versions and an error does (the process may linger after it).
 */
static void
agent_dec_opencode(struct agent_dec *ad, json_t *o, const char *type,
    agent_emitcb cb, void *arg)
{
	json_t		*part, *state, *tokens, *e;
	const char	*s, *st;

	if ((s = agent_str(o, "sessionID")) != NULL)
		agent_dec_session(ad, s, cb, arg);
	part = json_object_get(o, "part");
	if (strcmp(type, "text") == 0) {
		if ((s = agent_str(part, "text")) != NULL)
			agent_dec_text(s, json_string_length(json_object_get(
			    part, "text")), cb, arg);
	} else if (strcmp(type, "tool_use") == 0) {
		state = json_object_get(part, "state");
		st = agent_str(state, "status");
		s = agent_str(state, "title");
		agent_dec_tool(agent_str(part, "tool") != NULL ?
		    agent_str(part, "tool") : "tool", s != NULL && *s != '\0' ?
		    json_pack("{s:s}", "title", s) :
		    json_incref(json_object_get(state, "input")),
		    st != NULL && strcmp(st, "error") == 0 ? "failed" :
		    st != NULL && strcmp(st, "completed") == 0 ? "ok" :
		    "started", cb, arg);
	} else if (strcmp(type, "step_finish") == 0) {
		tokens = json_object_get(part, "tokens");
		ad->ad_tokens_in += agent_int(tokens, "input") + agent_int(
		    json_object_get(tokens, "cache"), "read") + agent_int(
		    json_object_get(tokens, "cache"), "write");
		ad->ad_tokens_out += agent_int(tokens, "output") +
		    agent_int(tokens, "reasoning");
		if (json_is_number(json_object_get(part, "cost"))) {
			ad->ad_cost += json_number_value(json_object_get(part,
			    "cost"));
			ad->ad_has_cost = 1;
		}
		/* The last step: opencode 1.18 writes no done line. */
		if ((s = agent_str(part, "reason")) != NULL &&
		    strcmp(s, "stop") == 0)
			agent_dec_end(ad, *ad->ad_lasterr != '\0' ?
			    AGENT_FAILED : AGENT_OK, *ad->ad_lasterr != '\0' ?
			    ad->ad_lasterr : NULL);
	} else if (strcmp(type, "error") == 0) {
		e = json_object_get(o, "error");
		s = agent_str(json_object_get(e, "data"), "message");
		if (s == NULL)
			s = agent_str(e, "message");
		if (s == NULL)
			s = agent_str(e, "name");
		snprintf(ad->ad_lasterr, sizeof(ad->ad_lasterr), "%s",
		    s != NULL ? s : "error");
		/* An error ends the turn: opencode exits 1 after it. */
		agent_dec_end(ad, AGENT_FAILED, ad->ad_lasterr);
	} else if (strcmp(type, "done") == 0) {
		if (*ad->ad_lasterr != '\0')
			agent_dec_end(ad, AGENT_FAILED, ad->ad_lasterr);
		else
			agent_dec_end(ad, AGENT_OK, NULL);
	}
}

/*
 * gemini: init carries the session; assistant messages are text (whole
 * or deltas); tool_use and tool_result pair by tool_id; result ends the
 * turn with its status and stats.
 */
static void
agent_dec_gemini(struct agent_dec *ad, json_t *o, const char *type,
    agent_emitcb cb, void *arg)
{
	json_t		*stats, *e;
	const char	*s, *name, *role;

	if (strcmp(type, "init") == 0) {
		if ((s = agent_str(o, "session_id")) != NULL)
			agent_dec_session(ad, s, cb, arg);
	} else if (strcmp(type, "message") == 0) {
		role = agent_str(o, "role");
		if (role != NULL && strcmp(role, "assistant") == 0 &&
		    (s = agent_str(o, "content")) != NULL)
			agent_dec_text(s, json_string_length(json_object_get(o,
			    "content")), cb, arg);
	} else if (strcmp(type, "tool_use") == 0) {
		if ((name = agent_str(o, "tool_name")) != NULL)
			agent_dec_tool_start(ad, agent_str(o, "tool_id"), name,
			    json_object_get(o, "parameters"), cb, arg);
	} else if (strcmp(type, "tool_result") == 0) {
		s = agent_str(o, "status");
		agent_dec_tool_end(ad, agent_str(o, "tool_id"), s != NULL &&
		    strcmp(s, "success") == 0 ? "ok" : "failed", cb, arg);
	} else if (strcmp(type, "error") == 0) {
		s = agent_str(o, "severity");
		if (s != NULL && strcmp(s, "error") == 0 &&
		    agent_str(o, "message") != NULL)
			snprintf(ad->ad_lasterr, sizeof(ad->ad_lasterr), "%s",
			    agent_str(o, "message"));
	} else if (strcmp(type, "result") == 0) {
		stats = json_object_get(o, "stats");
		ad->ad_tokens_in = agent_int(stats, "input_tokens");
		ad->ad_tokens_out = agent_int(stats, "output_tokens");
		s = agent_str(o, "status");
		if (s != NULL && strcmp(s, "success") == 0) {
			agent_dec_end(ad, AGENT_OK, NULL);
			return;
		}
		e = json_object_get(o, "error");
		s = agent_str(e, "message");
		agent_dec_end(ad, AGENT_FAILED, s != NULL ? s :
		    *ad->ad_lasterr ? ad->ad_lasterr : "result status is not "
		    "success");
	}
}

/* The session id, once: the first one a stream gives. */
static void
agent_dec_session(struct agent_dec *ad, const char *id, agent_emitcb cb,
    void *arg)
{
	struct agent_ev	 ev;
	size_t		 len = strlen(id);

	if (*ad->ad_session != '\0' || len == 0 || len > AGENT_SESSION_MAX ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.:") != len)
		return;		/* not one we could pass back safely */
	memcpy(ad->ad_session, id, len + 1);
	memset(&ev, 0, sizeof(ev));
	ev.ae_type = AGENT_EV_SESSION;
	ev.ae_session = ad->ad_session;
	cb(&ev, arg);
}

static void
agent_dec_text(const char *text, size_t len, agent_emitcb cb, void *arg)
{
	struct agent_ev	 ev;

	if (len == 0)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.ae_type = AGENT_EV_TEXT;
	ev.ae_text = text;
	ev.ae_len = len;
	cb(&ev, arg);
}

/* A tool event; takes input (may be NULL), the tool's arguments. */
static void
agent_dec_tool(const char *name, json_t *input, const char *status,
    agent_emitcb cb, void *arg)
{
	char	 tool[AGENT_TOOLNAME_MAX], summary[AGENT_SUMMARY_MAX];

	agent_oneline(name, tool, sizeof(tool));
	agent_summary(input, summary, sizeof(summary));
	json_decref(input);
	agent_dec_tool_emit(tool, summary, status, cb, arg);
}

/* A tool event of a name and a summary already on one line. */
static void
agent_dec_tool_emit(const char *tool, const char *summary,
    const char *status, agent_emitcb cb, void *arg)
{
	struct agent_ev	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.ae_type = AGENT_EV_TOOL;
	ev.ae_tool = tool;
	ev.ae_summary = summary;
	ev.ae_status = status;
	cb(&ev, arg);
}

/*
 * A tool starts: remember its name and summary by its id, for its end,
 * which names only the id.  At most AGENT_TOOLS_MAX are remembered.
 */
static void
agent_dec_tool_start(struct agent_dec *ad, const char *id, const char *name,
    json_t *input, agent_emitcb cb, void *arg)
{
	char	 tool[AGENT_TOOLNAME_MAX], summary[AGENT_SUMMARY_MAX];

	agent_oneline(name, tool, sizeof(tool));
	agent_summary(input, summary, sizeof(summary));
	if (id != NULL && (ad->ad_tools != NULL || (ad->ad_tools =
	    json_object()) != NULL) && json_object_size(ad->ad_tools) <
	    AGENT_TOOLS_MAX)
		json_object_set_new(ad->ad_tools, id, json_pack("[s, s]",
		    tool, summary));
	agent_dec_tool_emit(tool, summary, "started", cb, arg);
}

/* A tool ends: its name and summary are those of its start. */
static void
agent_dec_tool_end(struct agent_dec *ad, const char *id, const char *status,
    agent_emitcb cb, void *arg)
{
	json_t	*t = id != NULL ? json_object_get(ad->ad_tools, id) : NULL;
	const char	*name = json_string_value(json_array_get(t, 0));
	const char	*summary = json_string_value(json_array_get(t, 1));

	agent_dec_tool_emit(name != NULL ? name : "tool", summary != NULL ?
	    summary : "", status, cb, arg);
	if (t != NULL)
		json_object_del(ad->ad_tools, id);
}

static void
agent_dec_end(struct agent_dec *ad, enum agent_status st, const char *why)
{
	ad->ad_done = 1;
	ad->ad_status = st;
	if (why != NULL)
		agent_oneline(why, ad->ad_reason, sizeof(ad->ad_reason));
}

/*
 * One line saying what a tool works on: the value of the first key an
 * agent's tools use for it (a command, a path, a pattern, a URL), else
 * the first string of the arguments.
 */
static void
agent_summary(json_t *input, char *buf, size_t len)
{
	static const char	*keys[] = { "command", "cmd", "file_path",
				    "filePath", "path", "absolute_path",
				    "pattern", "url", "query", "title",
				    "description", "changes", "prompt" };
	const char		*key, *s = NULL;
	json_t			*v;
	size_t			 i;

	*buf = '\0';
	if (!json_is_object(input))
		return;
	for (i = 0; s == NULL && i < nitems(keys); i++)
		s = agent_str(input, keys[i]);
	if (s == NULL) {
		json_object_foreach(input, key, v)
			if ((s = json_string_value(v)) != NULL)
				break;
	}
	if (s == NULL && json_is_array(json_object_get(input, "command"))) {
		/* codex's shell tool: an argv */
		json_array_foreach(json_object_get(input, "command"), i, v)
			s = json_string_value(v);	/* the last word */
	}
	if (s != NULL)
		agent_oneline(s, buf, len);
}

/*
 * s on one line: control characters and newlines become spaces, runs
 * of blanks one, cut at len - 1 bytes on a UTF-8 boundary with "...".
 */
static void
agent_oneline(const char *s, char *buf, size_t len)
{
	size_t		 o = 0;
	unsigned char	 c;
	int		 blank = 1;

	for (; *s != '\0' && o + 1 < len; s++) {
		c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (!blank)
				buf[o++] = ' ';
			blank = 1;
			continue;
		}
		buf[o++] = c;
		blank = 0;
	}
	if (*s != '\0' && len > 4) {
		o = o > len - 4 ? len - 4 : o;
		while (o > 0 && ((unsigned char)buf[o] & 0xc0) == 0x80)
			o--;		/* not inside a character */
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	while (o > 0 && buf[o - 1] == ' ')
		o--;
	buf[o] = '\0';
	agent_utf8_fix(buf);
}

/*
 * The length of the valid UTF-8 character at s (at most len bytes), or
 * 0 if it is not one: overlong forms, surrogates and code points past
 * U+10FFFF are not.
 */
static size_t
agent_utf8_len(const unsigned char *s, size_t len)
{
	size_t		 n, i;
	uint32_t	 cp;

	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return (0);
	if (n > len)
		return (0);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 ||
	    cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return (0);
	return (n);
}

/* Replace every byte of s that is not valid UTF-8 with '?', in place. */
void
agent_utf8_fix(char *s)
{
	size_t	 len = strlen(s), i = 0, n;

	while (i < len) {
		if ((n = agent_utf8_len((unsigned char *)s + i, len - i)) ==
		    0) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

/*
 * s as valid UTF-8: each byte that is not part of a character becomes
 * U+FFFD, as a terminal shows it.  Allocated and NUL-terminated, its
 * length in *outlen; NULL if memory ran out.
 */
char *
agent_utf8(const char *s, size_t len, size_t *outlen)
{
	char	*out;
	size_t	 i = 0, o = 0, n;

	if ((out = malloc(len * 3 + 1)) == NULL)
		return (NULL);
	while (i < len) {
		if ((n = agent_utf8_len((const unsigned char *)s + i,
		    len - i)) == 0 || (n == 1 && s[i] == '\0')) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*outlen = o;
	return (out);
}

/* A non-negative integer member, or 0. */
static int64_t
agent_int(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (json_integer_value(v));
	if (json_is_real(v) && json_real_value(v) > 0 &&
	    json_real_value(v) < 9e15)
		return ((int64_t)json_real_value(v));
	return (0);
}

/* A string member (o itself when key is NULL), or NULL. */
static const char *
agent_str(json_t *o, const char *key)
{
	return (json_string_value(key != NULL ? json_object_get(o, key) : o));
}
