/*
 * proxy_dns.c: name resolution for the proxy, through evdns on the
 * daemon's loop.  The resolver lines of the config choose the hosts file
 * (answered before DNS) and the nameservers (else /etc/resolv.conf).
 * A reload rebuilds the resolver when its settings or the contents of
 * those files changed.
 *
 * A lookup's answer may come after its session has closed, and evdns may
 * also answer at once, from inside the call.  So every lookup is a small
 * request object of our own: closing the session detaches it, and the
 * answer is always delivered from the loop, never from inside the call.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/evp.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"
#include "proxy.h"

struct proxy_dns_req {
	struct evdns_getaddrinfo_request *dr_req;
	proxy_dns_cb			 dr_cb;
	void				*dr_arg;	/* NULL: detached */
	int				 dr_inside;	/* in evdns_getaddrinfo */
	int				 dr_done;
	int				 dr_err;
	struct evutil_addrinfo		*dr_ai;
};

static struct evdns_base	*proxy_dns_base;
static char			*proxy_dns_sig;	/* config it was built from */
static uint64_t			 proxy_dns_lookups;
static uint64_t			 proxy_dns_failures;

static char	*proxy_dns_signature(struct sbxd_config *);
static int	 proxy_dns_digest(const char *, char *, size_t);
static struct evdns_base *proxy_dns_new(struct sbxd_config *);
static void	proxy_dns_donecb(int, struct evutil_addrinfo *, void *);
static void	proxy_dns_delivercb(evutil_socket_t, short, void *);
static void	proxy_dns_deliver(struct proxy_dns_req *);

/* Build the resolver from the config's resolver lines. */
int
proxy_dns_init(struct sbxd_config *conf)
{
	if ((proxy_dns_base = proxy_dns_new(conf)) == NULL)
		return (-1);
	proxy_dns_sig = proxy_dns_signature(conf);
	return (0);
}

/*
 * Rebuild the resolver if its settings or files changed.  Lookups in
 * flight on the old one fail (their sessions answer 502) rather than
 * hang, and the parked upstream connections are closed.
 */
int
proxy_dns_reload(struct sbxd_config *conf, json_t *errors)
{
	struct evdns_base	*base;
	char			*sig = proxy_dns_signature(conf);

	if (sig == NULL) {
		json_array_append_new(errors, json_string("resolver: out of "
		    "memory; keeping the old settings"));
		return (-1);
	}
	if (proxy_dns_sig != NULL && strcmp(sig, proxy_dns_sig) == 0) {
		free(sig);
		return (0);
	}
	if ((base = proxy_dns_new(conf)) == NULL) {
		json_array_append_new(errors, json_string("resolver: cannot "
		    "apply the new settings; keeping the old ones"));
		free(sig);
		return (-1);
	}
	if (proxy_dns_base != NULL)
		evdns_base_free(proxy_dns_base, 1);
	proxy_dns_base = base;
	free(proxy_dns_sig);
	proxy_dns_sig = sig;
	/* A parked upstream went where a name pointed before. */
	proxy_pool_flush(NULL);
	log_info("proxy: resolver settings applied");
	return (0);
}

/* Fail whatever is in flight and free the resolver. */
void
proxy_dns_shutdown(void)
{
	if (proxy_dns_base != NULL)
		evdns_base_free(proxy_dns_base, 1);
	proxy_dns_base = NULL;
	free(proxy_dns_sig);
	proxy_dns_sig = NULL;
}

/*
 * The resolver settings, and digests of the files it reads, as one
 * string, to tell whether they changed; NULL if memory ran out.
 */
static char *
proxy_dns_signature(struct sbxd_config *conf)
{
	struct sbxd_nameserver	*ns;
	char			*sig, *next, buf[128];
	char			 hosts[80], resolv[80];

	hosts[0] = '\0';
	if (conf->sc_hostsfile != NULL)
		(void)proxy_dns_digest(conf->sc_hostsfile, hosts,
		    sizeof(hosts));
	(void)proxy_dns_digest("/etc/resolv.conf", resolv, sizeof(resolv));
	if (asprintf(&sig, "hosts=%s@%s resolv=%s", conf->sc_hostsfile !=
	    NULL ? conf->sc_hostsfile : "", hosts, resolv) == -1)
		return (NULL);
	TAILQ_FOREACH(ns, &conf->sc_nameservers, ns_entry) {
		if (asprintf(&next, "%s ns=%s", sig, util_sockaddr_str(
		    (struct sockaddr *)&ns->ns_ss, buf, sizeof(buf))) == -1)
			next = NULL;
		free(sig);
		if ((sig = next) == NULL)
			return (NULL);
	}
	return (sig);
}

/*
 * The SHA-256 of a file's contents, in hex, into buf; if it cannot be
 * read, why.  Either way buf changes when the file does.
 */
static int
proxy_dns_digest(const char *path, char *buf, size_t len)
{
	EVP_MD_CTX	*ctx;
	unsigned char	 md[EVP_MAX_MD_SIZE], chunk[8192];
	unsigned int	 mdlen, i;
	ssize_t		 n;
	int		 fd, r = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(buf, len, "(%s)", strerror(errno));
		return (-1);
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		snprintf(buf, len, "(out of memory)");
		goto done;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (EVP_DigestUpdate(ctx, chunk, n) != 1)
			break;
	if (n != 0 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
		snprintf(buf, len, "(%s)", n == -1 ? strerror(errno) :
		    "digest failed");
		goto done;
	}
	for (i = 0; i < mdlen && 2 * i + 2 < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", md[i]);
	r = 0;
done:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return (r);
}

static struct evdns_base *
proxy_dns_new(struct sbxd_config *conf)
{
	struct evdns_base	*base;
	struct sbxd_nameserver	*ns;
	int			 r;

	if ((base = evdns_base_new(sbxd_env->sx_base, 0)) == NULL)
		return (NULL);
	if (TAILQ_EMPTY(&conf->sc_nameservers))
		r = evdns_base_resolv_conf_parse(base, DNS_OPTIONS_ALL,
		    "/etc/resolv.conf");
	else {
		r = evdns_base_resolv_conf_parse(base, DNS_OPTIONS_ALL &
		    ~DNS_OPTION_NAMESERVERS, "/etc/resolv.conf");
		TAILQ_FOREACH(ns, &conf->sc_nameservers, ns_entry)
			if (evdns_base_nameserver_sockaddr_add(base,
			    (struct sockaddr *)&ns->ns_ss, ns->ns_sslen, 0))
				r = -1;
	}
	if (r != 0)
		log_warnx("proxy: resolver: /etc/resolv.conf or a nameserver "
		    "could not be used (error %d)", r);
	if (conf->sc_hostsfile != NULL &&
	    evdns_base_load_hosts(base, conf->sc_hostsfile) != 0) {
		log_warnx("proxy: resolver: cannot load hosts-file %s",
		    conf->sc_hostsfile);
		evdns_base_free(base, 0);
		return (NULL);
	}
	return (base);
}

/*
 * Look up the TCP addresses of name.  cb(err, addresses, arg) is called
 * once, from the loop, unless the request is cancelled first; it takes
 * the addresses.  Returns NULL only if no lookup could be started.
 */
struct proxy_dns_req *
proxy_dns_resolve(const char *name, proxy_dns_cb cb, void *arg)
{
	struct evutil_addrinfo	 hints;
	struct proxy_dns_req	*dr;
	struct timeval		 now = { 0, 0 };

	if (proxy_dns_base == NULL || (dr = calloc(1, sizeof(*dr))) == NULL)
		return (NULL);
	dr->dr_cb = cb;
	dr->dr_arg = arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	proxy_dns_lookups++;
	dr->dr_inside = 1;
	dr->dr_req = evdns_getaddrinfo(proxy_dns_base, name, NULL, &hints,
	    proxy_dns_donecb, dr);
	dr->dr_inside = 0;
	if (dr->dr_done) {
		/* Answered from inside the call: deliver from the loop. */
		dr->dr_req = NULL;
		if (event_base_once(sbxd_env->sx_base, -1, EV_TIMEOUT,
		    proxy_dns_delivercb, dr, &now) == -1) {
			if (dr->dr_ai != NULL)
				evutil_freeaddrinfo(dr->dr_ai);
			free(dr);
			return (NULL);
		}
	}
	return (dr);
}

/* The session is going: its callback will not be called. */
void
proxy_dns_cancel(struct proxy_dns_req *dr)
{
	if (dr == NULL)
		return;
	dr->dr_arg = NULL;
	if (dr->dr_req != NULL)
		evdns_getaddrinfo_cancel(dr->dr_req);	/* donecb frees */
}

static void
proxy_dns_donecb(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct proxy_dns_req	*dr = arg;

	dr->dr_done = 1;
	dr->dr_err = err;
	dr->dr_ai = ai;
	if (err != 0)
		proxy_dns_failures++;
	if (dr->dr_inside)
		return;
	dr->dr_req = NULL;
	proxy_dns_deliver(dr);
}

static void
proxy_dns_delivercb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	proxy_dns_deliver(arg);
}

/* Hand the answer to a session still waiting for it; free the request. */
static void
proxy_dns_deliver(struct proxy_dns_req *dr)
{
	if (dr->dr_arg != NULL)
		dr->dr_cb(dr->dr_err, dr->dr_ai, dr->dr_arg);
	else if (dr->dr_ai != NULL)
		evutil_freeaddrinfo(dr->dr_ai);
	free(dr);
}

/* Counters for status. */
/*
 * The first address of ai a credential gateway may connect to: a
 * public one, or with trusted (an upstream the config wrote) any IPv4
 * or IPv6 one.  NULL if none.
 */
const struct evutil_addrinfo *
proxy_dns_usable(const struct evutil_addrinfo *ai, int trusted)
{
	const void	*ip;

	for (; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			ip = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			ip = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (trusted ||
		    policy_addr_class(ai->ai_family, ip) == POLICY_ADDR_PUBLIC)
			return (ai);
	}
	return (NULL);
}

json_t *
proxy_dns_status(void)
{
	return (json_pack("{s:I, s:I}", "lookups",
	    (json_int_t)proxy_dns_lookups, "failures",
	    (json_int_t)proxy_dns_failures));
}
