/*
 * test_agent.c: the agent module's pure parts: the stream decoders,
 * replayed over golden streams of each CLI (tests/agent/golden, each
 * NAME.jsonl with the events expected in NAME.out), bad streams, the
 * argv and stdin of a turn per CLI, prompt checks and UTF-8 mending.
 * AGENT_GOLDEN_WRITE=1 writes NAME.out.new beside a golden that differs.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "sbxd.h"
#include "agent.h"
#include "unit.h"

/* Golden streams, by the agent type that writes them. */
static const struct {
	const char	*name;
	int		 type;
} goldens[] = {
	{ "claude-real-tool", AGENT_CLAUDE },	/* claude 2.1.332, recorded */
	{ "claude-text", AGENT_CLAUDE },
	/* Recorded offline from codex 0.171.0, opencode 1.18.33 and gemini
	   0.61.0 (tests/agent/CLI-NOTES.md). */
	{ "codex-tool", AGENT_CODEX },
	{ "codex-resume", AGENT_CODEX },
	{ "codex-error", AGENT_CODEX },
	{ "opencode-tool", AGENT_OPENCODE },
	{ "opencode-resume", AGENT_OPENCODE },
	{ "opencode-error", AGENT_OPENCODE },
	{ "gemini-tool", AGENT_GEMINI },
	{ "claude-apierror", AGENT_CLAUDE },
	{ "claude-aborted", AGENT_CLAUDE },
	{ "claude-maxturns", AGENT_CLAUDE },
	{ "codex-items", AGENT_CODEX },
	{ "codex-failed", AGENT_CODEX },
	{ "opencode-parts", AGENT_OPENCODE },
	{ "opencode-apierror", AGENT_OPENCODE },
	{ "gemini-stream", AGENT_GEMINI },
	{ "gemini-apierror", AGENT_GEMINI },
	{ "command-plain", AGENT_COMMAND },
};

/* The events of a stream as text, one line each, in an evbuffer-ish. */
struct out {
	char	*buf;
	size_t	 len;
};

static void
out_add(struct out *o, const char *s)
{
	size_t	 n = strlen(s);
	char	*p;

	if ((p = realloc(o->buf, o->len + n + 1)) == NULL)
		abort();
	o->buf = p;
	memcpy(o->buf + o->len, s, n + 1);
	o->len += n;
}

static void
emitcb(const struct agent_ev *ev, void *arg)
{
	struct out	*o = arg;
	json_t		*j;
	char		*s, line[1024];
	size_t		 len;

	switch (ev->ae_type) {
	case AGENT_EV_TEXT:
		s = agent_utf8(ev->ae_text, ev->ae_len, &len);
		j = json_stringn(s, len);
		free(s);
		s = json_dumps(j, JSON_ENCODE_ANY);
		json_decref(j);
		snprintf(line, sizeof(line), "text %s\n", s);
		free(s);
		break;
	case AGENT_EV_TOOL:
		snprintf(line, sizeof(line), "tool %s %s: %s\n", ev->ae_tool,
		    ev->ae_status, ev->ae_summary);
		break;
	case AGENT_EV_SESSION:
		snprintf(line, sizeof(line), "session %s\n", ev->ae_session);
		break;
	}
	out_add(o, line);
}

/* Decode a whole stream as agent.c does: line by line. */
static int
decode(int type, const char *data, size_t len, struct out *o,
    struct agent_dec *ad, char *err, size_t errlen)
{
	const char	*p = data, *end = data + len, *nl;
	char		 line[1024];

	agent_dec_init(ad, type);
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		if (agent_dec_line(ad, p, nl - p, emitcb, o, err, errlen) ==
		    -1)
			return (-1);
		p = nl + 1;
	}
	snprintf(line, sizeof(line), "end %s reason=\"%s\" in=%lld out=%lld "
	    "cost=%s%.4f\n", ad->ad_done ? agent_status_name(ad->ad_status) :
	    "none", ad->ad_reason, (long long)ad->ad_tokens_in,
	    (long long)ad->ad_tokens_out, ad->ad_has_cost ? "" : "none/",
	    ad->ad_cost);
	out_add(o, line);
	return (0);
}

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*buf;
	long	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		return (NULL);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	if ((buf = malloc(n + 1)) == NULL ||
	    fread(buf, 1, n, fp) != (size_t)n) {
		free(buf);
		fclose(fp);
		return (NULL);
	}
	buf[n] = '\0';
	fclose(fp);
	*lenp = n;
	return (buf);
}

static int
test_golden(void)
{
	struct agent_dec	 ad;
	struct out		 o;
	const char		*dir = getenv("top_srcdir");
	char			 path[1024], err[AGENT_REASON_MAX], *in, *want;
	size_t			 i, len, wlen;
	FILE			*fp;
	int			 ret = -1, bad = 0;

	if (dir == NULL)
		dir = ".";
	for (i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		memset(&o, 0, sizeof(o));
		snprintf(path, sizeof(path), "%s/tests/agent/golden/%s.jsonl",
		    dir, goldens[i].name);
		CHECK((in = slurp(path, &len)) != NULL);
		if (decode(goldens[i].type, in, len, &o, &ad, err,
		    sizeof(err)) == -1) {
			unit_fail(__FILE__, __LINE__, "%s: %s",
			    goldens[i].name, err);
			bad = 1;
		}
		agent_dec_clear(&ad);
		free(in);
		snprintf(path, sizeof(path), "%s/tests/agent/golden/%s.out",
		    dir, goldens[i].name);
		want = slurp(path, &wlen);
		if (want == NULL || strcmp(want, o.buf) != 0) {
			unit_fail(__FILE__, __LINE__, "%s: events differ; "
			    "got:\n%s", goldens[i].name, o.buf);
			bad = 1;
			if (getenv("AGENT_GOLDEN_WRITE") != NULL) {
				if (strlen(path) + 5 < sizeof(path))
					strcat(path, ".new");
				if ((fp = fopen(path, "w")) != NULL) {
					fputs(o.buf, fp);
					fclose(fp);
				}
			}
		}
		free(want);
		free(o.buf);
	}
	CHECK(!bad);
	ret = 0;
end:
	return (ret);
}

/* What is not a stream of the type fails with a reason; unknown types
   are skipped; nothing after the end counts. */
static int
test_bad(void)
{
	struct agent_dec	 ad;
	struct out		 o;
	char			 err[AGENT_REASON_MAX];
	const char		*s;
	int			 ret = -1;

	memset(&o, 0, sizeof(o));
	s = "{\"type\":\"system\",\"session_id\":\"abc\"}\nnot json at all\n";
	CHECK(decode(AGENT_CLAUDE, s, strlen(s), &o, &ad, err,
	    sizeof(err)) == -1);
	CHECK(strstr(err, "output line 2 is not JSON") != NULL);
	CHECK(strstr(err, "not json at all") != NULL);
	agent_dec_clear(&ad);
	s = "[1,2]\n";
	CHECK(decode(AGENT_CODEX, s, strlen(s), &o, &ad, err,
	    sizeof(err)) == -1);
	CHECK(strstr(err, "not an object with a \"type\"") != NULL);
	agent_dec_clear(&ad);
	s = "{\"type\":42}\n";
	CHECK(decode(AGENT_GEMINI, s, strlen(s), &o, &ad, err,
	    sizeof(err)) == -1);
	agent_dec_clear(&ad);
	/* Unknown types and blank lines: skipped. */
	s = "{\"type\":\"brand.new\",\"x\":1}\n\n   \n{\"type\":\"turn.completed\","
	    "\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}\n"
	    "{\"type\":\"turn.failed\",\"error\":{\"message\":\"late\"}}\n";
	CHECK(decode(AGENT_CODEX, s, strlen(s), &o, &ad, err,
	    sizeof(err)) == 0);
	CHECK(ad.ad_done);
	CHECK_INT(ad.ad_status, AGENT_OK);
	CHECK_INT(ad.ad_tokens_in, 3);
	agent_dec_clear(&ad);
	/* Invalid UTF-8 in a tool name and a session id that could not be
	   passed back safely. */
	s = "{\"type\":\"tool_use\",\"sessionID\":\"a b;rm\",\"part\":{\"tool\":"
	    "\"b\\u0001ad\\nname\",\"state\":{\"status\":\"completed\","
	    "\"title\":\"x\"}}}\n";
	free(o.buf);
	memset(&o, 0, sizeof(o));
	CHECK(decode(AGENT_OPENCODE, s, strlen(s), &o, &ad, err,
	    sizeof(err)) == 0);
	CHECK(strstr(o.buf, "session") == NULL);
	CHECK(strstr(o.buf, "tool b ad name ok: x") != NULL ||
	    strstr(o.buf, "tool b ok: x") != NULL);
	agent_dec_clear(&ad);
	ret = 0;
end:
	free(o.buf);
	return (ret);
}

/* A long, multi-line tool input becomes one bounded line. */
static int
test_summary(void)
{
	struct agent_dec	 ad;
	struct out		 o;
	char			 err[AGENT_REASON_MAX], *s, *cmd;
	int			 ret = -1, i;

	memset(&o, 0, sizeof(o));
	cmd = malloc(2000);
	for (i = 0; i < 1990; i++)
		cmd[i] = i % 50 == 49 ? '\n' : 'a' + i % 26;
	cmd[1990] = '\0';
	if (asprintf(&s, "{\"type\":\"assistant\",\"message\":{\"content\":"
	    "[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Bash\",\"input\":"
	    "{\"command\":\"%s\"}}]}}\n", cmd) == -1)
		s = NULL;
	free(cmd);
	CHECK(s != NULL);
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] == '\n' && s[i + 1] != '\0')
			s[i] = ' ';
	CHECK(decode(AGENT_CLAUDE, s, strlen(s), &o, &ad, err,
	    sizeof(err)) == 0);
	free(s);
	CHECK(strstr(o.buf, "tool Bash started: abc") != NULL);
	CHECK(strstr(o.buf, "...\n") != NULL);
	CHECK(strcspn(strchr(o.buf, ':') + 2, "\n") < AGENT_SUMMARY_MAX);
	agent_dec_clear(&ad);
	ret = 0;
end:
	free(o.buf);
	return (ret);
}

static int
argv_is(char **av, const char *const *want)
{
	size_t	 i;

	for (i = 0; want[i] != NULL; i++)
		if (av[i] == NULL || strcmp(av[i], want[i]) != 0) {
			unit_fail(__FILE__, __LINE__, "word %zu is \"%s\", "
			    "want \"%s\"", i, av[i] ? av[i] : "(end)",
			    want[i]);
			return (0);
		}
	if (av[i] != NULL) {
		unit_fail(__FILE__, __LINE__, "extra word \"%s\"", av[i]);
		return (0);
	}
	return (1);
}

/* The flags each CLI needs, the session, then the agent's and mode's. */
static int
test_argv(void)
{
	struct agent_conf	 ac;
	struct agent_mode	 am;
	char			*args[] = { "--model", "m1", NULL };
	char			*margs[] = { "--permission-mode", "plan", NULL };
	static const char *const claude[] = { "/bin/claude", "-p",
		"--output-format", "stream-json", "--verbose",
		"--input-format", "stream-json", "--resume", "s-1", "--model",
		"m1", "--permission-mode", "plan", NULL };
	static const char *const codex[] = { "/bin/codex", "exec", "--json",
		"--skip-git-repo-check", "--model", "m1", "--permission-mode",
		"plan", "resume", "s-1", "-", NULL };
	static const char *const codexnew[] = { "/bin/codex", "exec",
		"--json", "--skip-git-repo-check", "--model", "m1", "-", NULL };
	static const char *const opencode[] = { "/bin/opencode", "run",
		"--format", "json", "--session", "s-1", "--model", "m1",
		NULL };
	static const char *const gemini[] = { "/bin/gemini",
		"--output-format", "stream-json", "--model", "m1", NULL };
	static const char *const command[] = { "/bin/cmd", "--model", "m1",
		NULL };
	char			**av = NULL;
	int			 ret = -1;

	memset(&ac, 0, sizeof(ac));
	memset(&am, 0, sizeof(am));
	TAILQ_INIT(&ac.ac_modes);
	ac.ac_args = args;
	am.am_args = margs;
	ac.ac_type = AGENT_CLAUDE;
	ac.ac_path = "/bin/claude";
	CHECK((av = agent_cli_argv(&ac, &am, "s-1")) != NULL);
	CHECK(argv_is(av, claude));
	agent_cli_argv_free(av);
	ac.ac_type = AGENT_CODEX;
	ac.ac_path = "/bin/codex";
	CHECK((av = agent_cli_argv(&ac, &am, "s-1")) != NULL);
	CHECK(argv_is(av, codex));
	agent_cli_argv_free(av);
	CHECK((av = agent_cli_argv(&ac, NULL, NULL)) != NULL);
	CHECK(argv_is(av, codexnew));
	agent_cli_argv_free(av);
	ac.ac_type = AGENT_OPENCODE;
	ac.ac_path = "/bin/opencode";
	CHECK((av = agent_cli_argv(&ac, NULL, "s-1")) != NULL);
	CHECK(argv_is(av, opencode));
	agent_cli_argv_free(av);
	ac.ac_type = AGENT_GEMINI;
	ac.ac_path = "/bin/gemini";
	CHECK((av = agent_cli_argv(&ac, NULL, NULL)) != NULL);
	CHECK(argv_is(av, gemini));
	agent_cli_argv_free(av);
	ac.ac_type = AGENT_COMMAND;
	ac.ac_path = "/bin/cmd";
	CHECK((av = agent_cli_argv(&ac, NULL, "ignored")) != NULL);
	CHECK(argv_is(av, command));
	agent_cli_argv_free(av);
	av = NULL;
	ret = 0;
end:
	agent_cli_argv_free(av);
	return (ret);
}

/* claude gets a stream-json message, byte for byte; others the prompt. */
static int
test_input(void)
{
	const char	*prompt = "a \"quoted\" $(x) `y`\nline\t\\ é ✓";
	json_t		*j = NULL;
	char		*in = NULL;
	size_t		 len;
	int		 ret = -1;

	CHECK((in = agent_cli_input(AGENT_CLAUDE, prompt, strlen(prompt),
	    &len)) != NULL);
	CHECK(len == strlen(in) && in[len - 1] == '\n');
	CHECK(memchr(in, '\n', len - 1) == NULL);	/* one line */
	CHECK((j = json_loads(in, 0, NULL)) != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "type")), "user");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j,
	    "message"), "content")), prompt);
	free(in);
	CHECK((in = agent_cli_input(AGENT_CODEX, prompt, strlen(prompt),
	    &len)) != NULL);
	CHECK(len == strlen(prompt) && memcmp(in, prompt, len) == 0);
	CHECK(agent_cli_keeps_stdin(AGENT_CLAUDE));
	CHECK(!agent_cli_keeps_stdin(AGENT_CODEX));
	json_decref(j);
	CHECK((j = json_loads(agent_cli_interrupt(), 0, NULL)) != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(j,
	    "request"), "subtype")), "interrupt");
	ret = 0;
end:
	json_decref(j);
	free(in);
	return (ret);
}

static int
test_prompt(void)
{
	char	 err[256], *big = NULL;
	int	 ret = -1;

	CHECK(agent_prompt_check("hi", 2, err, sizeof(err)) == 0);
	CHECK(agent_prompt_check("", 0, err, sizeof(err)) == -1);
	CHECK(strstr(err, "empty") != NULL);
	CHECK(agent_prompt_check("a\0b", 3, err, sizeof(err)) == -1);
	CHECK(strstr(err, "NUL") != NULL);
	CHECK((big = malloc(AGENT_PROMPT_MAX + 1)) != NULL);
	memset(big, 'x', AGENT_PROMPT_MAX + 1);
	CHECK(agent_prompt_check(big, AGENT_PROMPT_MAX, err,
	    sizeof(err)) == 0);
	CHECK(agent_prompt_check(big, AGENT_PROMPT_MAX + 1, err,
	    sizeof(err)) == -1);
	CHECK(strstr(err, "256 KiB") != NULL);
	ret = 0;
end:
	free(big);
	return (ret);
}

static int
test_utf8(void)
{
	char	 s[] = "ok \xc3\xa9 bad \xff\xfe cut \xe2\x9c";
	char	*u = NULL;
	size_t	 len;
	json_t	*j = NULL;
	int	 ret = -1;

	CHECK((u = agent_utf8(s, sizeof(s) - 1, &len)) != NULL);
	CHECK((j = json_stringn(u, len)) != NULL);
	CHECK(strstr(u, "ok \xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd cut") !=
	    NULL);
	agent_utf8_fix(s);
	CHECK_STR(s, "ok \xc3\xa9 bad ?? cut ??");
	free(u);
	/* Overlong and surrogate forms are not UTF-8 either. */
	CHECK((u = agent_utf8("\xc0\xaf\xed\xa0\x80", 5, &len)) != NULL);
	CHECK_INT(len, 15);
	ret = 0;
end:
	json_decref(j);
	free(u);
	return (ret);
}

static const struct unit_test tests[] = {
	{ "golden", test_golden },
	{ "bad", test_bad },
	{ "summary", test_summary },
	{ "argv", test_argv },
	{ "input", test_input },
	{ "prompt", test_prompt },
	{ "utf8", test_utf8 },
};

UNIT_MAIN("agent", tests)
