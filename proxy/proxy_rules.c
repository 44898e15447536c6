/*
 * proxy_rules.c: a listener's runtime rules and their lifecycle.
 * "sbxctl allow|deny NAME PATTERN [--for DURATION]" sets one, kept in
 * the store; "sbxctl unallow NAME PATTERN" takes one out; "sbxctl rules
 * [NAME]" lists one listener's or everybody's.  A rule with a lifetime
 * goes by itself when its time is up: one timer, set for the earliest
 * expiry, and the expiry kept in the store, so that a restart keeps
 * what is left of a lifetime and drops a rule whose time passed while
 * sbxd was down.  Every change is checked, then stored, then applied:
 * a rule the store did not take would be gone at the next start.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"

#define PROXY_RULE_FOR_MAX	(366 * 24 * 3600)	/* --for at most */
#define PROXY_RULE_TICK_MAX	3600	/* look again at least this often:
					   the wall clock may jump */
#define PROXY_RULE_RETRY	10	/* an expiry the store refused */

/* A runtime rule that goes at pe_at (seconds since the epoch). */
struct proxy_expiry {
	TAILQ_ENTRY(proxy_expiry)	 pe_entry;
	char				 pe_listener[64];
	char				*pe_pattern;	/* canonical, stored */
	time_t				 pe_at;
};
TAILQ_HEAD(proxy_expiries, proxy_expiry);

static void	proxy_ctl_rule(struct control_req *, json_t *, int);
static void	proxy_ctl_allow(struct control_req *, json_t *);
static void	proxy_ctl_deny(struct control_req *, json_t *);
static void	proxy_ctl_unallow(struct control_req *, json_t *);
static void	proxy_ctl_rules(struct control_req *, json_t *);
static json_t	*proxy_rules_json(struct proxy_listener *);
static void	proxy_rules_tidy(struct proxy_listener *, json_t *);
static int	proxy_expiry_set(const char *, const char *, time_t);
static time_t	proxy_expiry_at(const char *, const char *);
static void	proxy_expiry_schedule(void);
static void	proxy_expirecb(evutil_socket_t, short, void *);
static void	proxy_rule_gone(struct proxy_listener *, const char *,
		    const char *, const char *);

static const struct control_field proxy_rule_fields[] = {
	{ "listener", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ "pattern", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ "for", CONTROL_F_INT },
	{ NULL, 0 }
};
static const struct control_field proxy_unallow_fields[] = {
	{ "listener", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ "pattern", CONTROL_F_STRING | CONTROL_F_NEEDED },
	{ NULL, 0 }
};
static const struct control_field proxy_rules_fields[] = {
	{ "listener", CONTROL_F_STRING },
	{ NULL, 0 }
};

static struct proxy_expiries	 proxy_expiries =
				    TAILQ_HEAD_INITIALIZER(proxy_expiries);
static struct event		*proxy_ev_expire;

int
proxy_rules_init(void)
{
	control_register("allow", proxy_ctl_allow, proxy_rule_fields);
	control_register("deny", proxy_ctl_deny, proxy_rule_fields);
	control_register("unallow", proxy_ctl_unallow, proxy_unallow_fields);
	control_register("rules", proxy_ctl_rules, proxy_rules_fields);
	if (proxy_ev_expire == NULL && (proxy_ev_expire = evtimer_new(
	    sbxd_env->sx_base, proxy_expirecb, NULL)) == NULL)
		return (-1);
	return (0);
}

void
proxy_rules_shutdown(void)
{
	struct proxy_expiry	*pe;

	while ((pe = TAILQ_FIRST(&proxy_expiries)) != NULL) {
		TAILQ_REMOVE(&proxy_expiries, pe, pe_entry);
		free(pe->pe_pattern);
		free(pe);
	}
	if (proxy_ev_expire != NULL) {
		event_free(proxy_ev_expire);
		proxy_ev_expire = NULL;
	}
}

/* A listener closes: its rules' lifetimes go with it. */
void
proxy_rules_forget(const char *listener)
{
	struct proxy_expiry	*pe, *next;

	TAILQ_FOREACH_SAFE(pe, &proxy_expiries, pe_entry, next) {
		if (strcmp(pe->pe_listener, listener) != 0)
			continue;
		TAILQ_REMOVE(&proxy_expiries, pe, pe_entry);
		free(pe->pe_pattern);
		free(pe);
	}
	proxy_expiry_schedule();
}

/*
 * The runtime rules the store holds for pr; those whose time passed
 * while sbxd was down go now.  Rows are read oldest first, so a later
 * row for the same pattern wins, lifetime and all, as it did when it
 * was set.
 */
void
proxy_rules_load(struct proxy_listener *pr)
{
	json_t		*list, *r, *exp;
	const char	*pattern, *action, *text;
	char		 err[256];
	time_t		 at, now = time(NULL);
	size_t		 i;

	if ((list = store_rule_list(pr->pr_name)) == NULL)
		return;
	json_array_foreach(list, i, r) {
		pattern = json_string_value(json_object_get(r, "pattern"));
		action = json_string_value(json_object_get(r, "action"));
		exp = json_object_get(r, "expires");
		at = json_is_object(exp) ? (time_t)json_integer_value(
		    json_object_get(exp, "seconds")) : 0;
		if (at != 0 && at <= now) {
			if (store_rule_delete(pr->pr_name, pattern) == 0)
				proxy_rule_gone(pr, pattern, action,
				    "expired while sbxd was down");
			continue;
		}
		if (policy_rules_set(pr->pr_extra, pattern,
		    strcmp(action, "allow") == 0 ? POLICY_ALLOW : POLICY_BLOCK,
		    err, sizeof(err)) == -1) {
			log_warnx("proxy: listener %s: stored rule \"%s\" "
			    "ignored: %s", pr->pr_name, pattern, err);
			continue;
		}
		text = policy_rule_text(policy_rules_find(pr->pr_extra,
		    pattern));
		if (proxy_expiry_set(pr->pr_name, text, at) == -1)
			log_warnx("proxy: listener %s: rule \"%s\": out of "
			    "memory for its lifetime", pr->pr_name, pattern);
	}
	proxy_rules_tidy(pr, list);
	json_decref(list);
}

/*
 * Rows of list (pr's, as loaded) whose pattern is not in the form sbxd
 * writes, kept by an older sbxd or by create --allow, are written again
 * in that form, as the running rule now is: unallow and expiry then
 * find exactly one row per rule.
 */
static void
proxy_rules_tidy(struct proxy_listener *pr, json_t *list)
{
	const struct policy_rule	*ru;
	const char			*pattern, *text;
	json_t				*r;
	size_t				 i;

	json_array_foreach(list, i, r) {
		pattern = json_string_value(json_object_get(r, "pattern"));
		if ((ru = policy_rules_find(pr->pr_extra, pattern)) == NULL ||
		    strcmp(text = policy_rule_text(ru), pattern) == 0)
			continue;
		if (store_rule_put(pr->pr_name, text, policy_rule_action(ru) ==
		    POLICY_ALLOW ? "allow" : "block", proxy_expiry_at(
		    pr->pr_name, text)) == -1 ||
		    store_rule_delete(pr->pr_name, pattern) == -1)
			log_warnx("proxy: listener %s: stored rule \"%s\" not "
			    "rewritten as \"%s\": %s", pr->pr_name, pattern,
			    text, store_error());
	}
}

/*
 * allow|deny LISTENER PATTERN [for SECONDS]: a runtime rule, kept in the
 * store, for good or for that long.
 */
static void
proxy_ctl_rule(struct control_req *cr, json_t *req, int allow)
{
	struct proxy_listener	*pr;
	const char		*name, *pattern;
	json_t			*jfor;
	char			 err[256];
	time_t			 at = 0;

	name = json_string_value(json_object_get(req, "listener"));
	pattern = json_string_value(json_object_get(req, "pattern"));
	if ((pr = proxy_listener_find(name)) == NULL) {
		control_req_error(cr, "no listener \"%s\"", name);
		return;
	}
	if ((jfor = json_object_get(req, "for")) != NULL) {
		if (json_integer_value(jfor) < 1 ||
		    json_integer_value(jfor) > PROXY_RULE_FOR_MAX) {
			control_req_error(cr, "a rule lasts from 1 second to "
			    "366 days, not %lld seconds",
			    (long long)json_integer_value(jfor));
			return;
		}
		at = time(NULL) + (time_t)json_integer_value(jfor);
	}
	if (proxy_rules_add(pr, pattern, allow, at, control_req_uid(cr),
	    control_req_who(cr), NULL, 0, err, sizeof(err)) == -1) {
		control_req_error(cr, "%s", err);
		return;
	}
	control_req_ok(cr, NULL);
}

/*
 * Set a runtime rule of pr: checked, stored, applied, logged and
 * published as proxy.rule, by uid or who (a name, or NULL); at, when it
 * goes (0: never).  The rule's canonical text goes in text, if not
 * NULL.  Questions waiting on pr that the rule now answers are decided.
 * -1, with the cause in err, if the rule was not set.
 */
int
proxy_rules_add(struct proxy_listener *pr, const char *pattern, int allow,
    time_t at, uid_t uid, const char *who, char *text, size_t textlen,
    char *err, size_t errlen)
{
	struct policy_rule	*ru;
	const struct policy_rule *prev;
	const char		*was = NULL;
	const char		*act = allow ? "allow" : "block";
	struct timespec		 ts;
	json_t			*ev;
	char			 tmp[256], tbuf[32], canon[320], by[160];
	time_t			 was_at;

	if (policy_rule_parse(pattern, POLICY_ALLOW, &ru, tmp,
	    sizeof(tmp)) == -1) {
		snprintf(err, errlen, "pattern \"%s\": %s", pattern, tmp);
		return (-1);
	}
	/*
	 * The store and the lifetimes know a pattern in one form only, as
	 * the running rules do: Example.COM and example.com are one rule.
	 */
	snprintf(canon, sizeof(canon), "%s", policy_rule_text(ru));
	policy_rule_free(ru);
	pattern = canon;
	if ((prev = policy_rules_find(pr->pr_extra, pattern)) != NULL)
		was = policy_rule_action(prev) == POLICY_ALLOW ? "allow" :
		    "block";
	was_at = proxy_expiry_at(pr->pr_name, pattern);
	if (store_rule_put(pr->pr_name, pattern, act, at) == -1) {
		snprintf(err, errlen, "rule %s %s on %s: the store did not "
		    "take it (%s); not applied", act, pattern, pr->pr_name,
		    store_error());
		return (-1);
	}
	tmp[0] = '\0';
	if (policy_rules_set(pr->pr_extra, pattern, allow ? POLICY_ALLOW :
	    POLICY_BLOCK, tmp, sizeof(tmp)) == -1 ||
	    proxy_expiry_set(pr->pr_name, pattern, at) == -1) {
		/* Back to what was: the rule before, or none. */
		if (tmp[0] == '\0')
			snprintf(tmp, sizeof(tmp), "out of memory");
		snprintf(err, errlen, "pattern \"%s\": %s", pattern, tmp);
		if (was == NULL) {
			(void)store_rule_delete(pr->pr_name, pattern);
			(void)policy_rules_remove(pr->pr_extra, pattern, tmp,
			    sizeof(tmp));
		} else {
			/* Its lifetime too, if it had one. */
			(void)store_rule_put(pr->pr_name, pattern, was, was_at);
			(void)policy_rules_set(pr->pr_extra, pattern,
			    strcmp(was, "allow") == 0 ? POLICY_ALLOW :
			    POLICY_BLOCK, tmp, sizeof(tmp));
			(void)proxy_expiry_set(pr->pr_name, pattern, was_at);
		}
		return (-1);
	}
	if (who != NULL)
		snprintf(by, sizeof(by), "%s", who);
	else
		snprintf(by, sizeof(by), "uid %d", (int)uid);
	log_info("proxy: listener %s: %s %s%s, by %s", pr->pr_name, act,
	    pattern, at != 0 ? " for a time" : "", by);
	ev = json_pack("{s:s, s:s?, s:s, s:s, s:i, s:s?}", "listener",
	    pr->pr_name, "sandbox", pr->pr_sandbox, "action", act, "pattern",
	    pattern, "uid", (int)uid, "by", who);
	if (at != 0) {
		ts.tv_sec = at;
		ts.tv_nsec = 0;
		util_rfc3339(&ts, tbuf, sizeof(tbuf));
		json_object_set_new(ev, "expires", json_string(tbuf));
	}
	events_publish("proxy.rule", ev);
	if (text != NULL)
		snprintf(text, textlen, "%s", pattern);
	proxy_ask_recheck(pr, by);
	return (0);
}

static void
proxy_ctl_allow(struct control_req *cr, json_t *req)
{
	proxy_ctl_rule(cr, req, 1);
}

static void
proxy_ctl_deny(struct control_req *cr, json_t *req)
{
	proxy_ctl_rule(cr, req, 0);
}

/*
 * unallow LISTENER PATTERN: take out the runtime rule of that pattern,
 * allow or deny; the policy decides again.
 */
static void
proxy_ctl_unallow(struct control_req *cr, json_t *req)
{
	struct proxy_listener		*pr;
	const struct policy_rule	*ru;
	struct policy_rule		*parsed;
	const char			*name, *pattern, *act;
	json_t				*list, *r;
	char				 err[256], *text, *have = NULL;
	size_t				 i, len = 0;
	FILE				*fp;

	name = json_string_value(json_object_get(req, "listener"));
	pattern = json_string_value(json_object_get(req, "pattern"));
	if ((pr = proxy_listener_find(name)) == NULL) {
		control_req_error(cr, "no listener \"%s\"", name);
		return;
	}
	if (policy_rule_parse(pattern, POLICY_ALLOW, &parsed, err,
	    sizeof(err)) == -1) {
		control_req_error(cr, "pattern \"%s\": %s", pattern, err);
		return;
	}
	policy_rule_free(parsed);
	if ((ru = policy_rules_find(pr->pr_extra, pattern)) == NULL) {
		list = store_rule_list(pr->pr_name);
		if ((fp = open_memstream(&have, &len)) != NULL) {
			json_array_foreach(list, i, r)
				fprintf(fp, "%s%s %s", i == 0 ? "" : ", ",
				    json_string_value(json_object_get(r,
				    "action")), json_string_value(
				    json_object_get(r, "pattern")));
			fclose(fp);
		}
		if (have != NULL && have[0] != '\0')
			control_req_error(cr, "%s has no runtime rule \"%s\"; "
			    "its rules: %s", pr->pr_name, pattern, have);
		else
			control_req_error(cr, "%s has no runtime rule \"%s\"; "
			    "it has none", pr->pr_name, pattern);
		free(have);
		json_decref(list);
		return;
	}
	act = policy_rule_action(ru) == POLICY_ALLOW ? "allow" : "block";
	if ((text = strdup(policy_rule_text(ru))) == NULL) {
		control_req_error(cr, "out of memory");
		return;
	}
	/* The store keeps the pattern as it was given; either form goes. */
	if (store_rule_delete(pr->pr_name, pattern) == -1 ||
	    store_rule_delete(pr->pr_name, text) == -1) {
		control_req_error(cr, "rule %s %s on %s: the store did not "
		    "forget it (%s); kept", act, pattern, pr->pr_name,
		    store_error());
		free(text);
		return;
	}
	(void)policy_rules_remove(pr->pr_extra, pattern, err, sizeof(err));
	(void)proxy_expiry_set(pr->pr_name, pattern, 0);
	(void)proxy_expiry_set(pr->pr_name, text, 0);
	log_info("proxy: listener %s: %s %s taken out, by uid %d",
	    pr->pr_name, act, text, (int)control_req_uid(cr));
	events_publish("proxy.rule", json_pack("{s:s, s:s?, s:s, s:s, s:i}",
	    "listener", pr->pr_name, "sandbox", pr->pr_sandbox, "action",
	    "removed", "pattern", text, "uid", (int)control_req_uid(cr)));
	free(text);
	control_req_ok(cr, NULL);
}

/* rules [LISTENER]: one listener's policy and runtime rules, or all. */
static void
proxy_ctl_rules(struct control_req *cr, json_t *req)
{
	struct proxy_listener	*pr;
	const char		*name;
	json_t			*all;

	name = json_string_value(json_object_get(req, "listener"));
	if (name != NULL) {
		if ((pr = proxy_listener_find(name)) == NULL) {
			control_req_error(cr, "no listener \"%s\"", name);
			return;
		}
		control_req_ok(cr, proxy_rules_json(pr));
		return;
	}
	if ((all = json_array()) == NULL) {
		control_req_error(cr, "out of memory");
		return;
	}
	TAILQ_FOREACH(pr, &proxy_listeners, pr_entry)
		json_array_append_new(all, proxy_rules_json(pr));
	control_req_ok(cr, json_pack("{s:o}", "listeners", all));
}

/*
 * {listener, policy, sandbox, rules}: each rule with its expiry and the
 * seconds it has left, or null.
 */
static json_t *
proxy_rules_json(struct proxy_listener *pr)
{
	json_t		*list, *r, *exp;
	time_t		 now = time(NULL), at;
	size_t		 i;

	if ((list = store_rule_list(pr->pr_name)) == NULL)
		list = json_array();
	json_array_foreach(list, i, r) {
		exp = json_object_get(r, "expires");
		if (!json_is_object(exp))
			continue;
		at = (time_t)json_integer_value(json_object_get(exp,
		    "seconds"));
		json_object_set_new(exp, "left", json_integer(at > now ?
		    (json_int_t)(at - now) : 0));
	}
	return (json_pack("{s:s, s:s, s:s?, s:o, s:o, s:o}", "listener",
	    pr->pr_name, "policy", pr->pr_policy->pol_name, "sandbox",
	    pr->pr_sandbox, "rules", list, "asks", proxy_ask_list(pr),
	    "decisions", store_ask_list(pr->pr_name,
	    PROXY_ASK_DECISIONS_SHOWN)));
}

/*
 * Make the rule of listener and pattern go at at, or, with at 0, keep
 * it for good.  -1 if memory ran out.
 */
static int
proxy_expiry_set(const char *listener, const char *pattern, time_t at)
{
	struct proxy_expiry	*pe, *next;

	TAILQ_FOREACH_SAFE(pe, &proxy_expiries, pe_entry, next) {
		if (strcmp(pe->pe_listener, listener) != 0 ||
		    strcmp(pe->pe_pattern, pattern) != 0)
			continue;
		TAILQ_REMOVE(&proxy_expiries, pe, pe_entry);
		free(pe->pe_pattern);
		free(pe);
	}
	if (at != 0) {
		if ((pe = calloc(1, sizeof(*pe))) == NULL ||
		    (pe->pe_pattern = strdup(pattern)) == NULL) {
			free(pe);
			return (-1);
		}
		snprintf(pe->pe_listener, sizeof(pe->pe_listener), "%s",
		    listener);
		pe->pe_at = at;
		TAILQ_INSERT_TAIL(&proxy_expiries, pe, pe_entry);
	}
	proxy_expiry_schedule();
	return (0);
}

/* When the rule of listener and pattern goes; 0 for never. */
static time_t
proxy_expiry_at(const char *listener, const char *pattern)
{
	struct proxy_expiry	*pe;

	TAILQ_FOREACH(pe, &proxy_expiries, pe_entry)
		if (strcmp(pe->pe_listener, listener) == 0 &&
		    strcmp(pe->pe_pattern, pattern) == 0)
			return (pe->pe_at);
	return (0);
}

/* Set the timer for the earliest expiry, if any. */
static void
proxy_expiry_schedule(void)
{
	struct proxy_expiry	*pe;
	struct timeval		 tv = { 0, 0 };
	time_t			 first = 0, now = time(NULL);

	if (proxy_ev_expire == NULL)
		return;
	evtimer_del(proxy_ev_expire);
	TAILQ_FOREACH(pe, &proxy_expiries, pe_entry)
		if (first == 0 || pe->pe_at < first)
			first = pe->pe_at;
	if (first == 0)
		return;
	if (first > now)
		tv.tv_sec = first - now > PROXY_RULE_TICK_MAX ?
		    PROXY_RULE_TICK_MAX : first - now;
	evtimer_add(proxy_ev_expire, &tv);
}

/* The rules whose time is up go: from the running rules and the store. */
static void
proxy_expirecb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	struct proxy_expiry		*pe, *next;
	struct proxy_listener		*pr;
	const struct policy_rule	*ru;
	const char			*act;
	char				 err[256];
	time_t				 now = time(NULL);

	TAILQ_FOREACH_SAFE(pe, &proxy_expiries, pe_entry, next) {
		if (pe->pe_at > now)
			continue;
		if ((pr = proxy_listener_find(pe->pe_listener)) != NULL &&
		    (ru = policy_rules_find(pr->pr_extra,
		    pe->pe_pattern)) != NULL) {
			act = policy_rule_action(ru) == POLICY_ALLOW ?
			    "allow" : "block";
			if (store_rule_delete(pr->pr_name, pe->pe_pattern) ==
			    -1) {
				/* Kept, and tried again a little later. */
				log_warnx("proxy: listener %s: rule \"%s\" "
				    "expired, but the store kept it: %s",
				    pr->pr_name, pe->pe_pattern,
				    store_error());
				pe->pe_at = now + PROXY_RULE_RETRY;
				continue;
			}
			(void)policy_rules_remove(pr->pr_extra,
			    pe->pe_pattern, err, sizeof(err));
			proxy_rule_gone(pr, pe->pe_pattern, act, "expired");
		}
		TAILQ_REMOVE(&proxy_expiries, pe, pe_entry);
		free(pe->pe_pattern);
		free(pe);
	}
	proxy_expiry_schedule();
}

/* A rule went by itself: say so. */
static void
proxy_rule_gone(struct proxy_listener *pr, const char *pattern,
    const char *action, const char *why)
{
	log_info("proxy: listener %s: %s %s %s", pr->pr_name, action,
	    pattern, why);
	events_publish("proxy.rule.expired", json_pack("{s:s, s:s?, s:s, "
	    "s:s}", "listener", pr->pr_name, "sandbox", pr->pr_sandbox,
	    "action", action, "pattern", pattern));
}
