/*
 * proxy.h: types and prototypes shared only between the files of proxy/.
 */

#ifndef SBXD_PROXY_H
#define SBXD_PROXY_H

#define PROXY_BACKLOG		128	/* pending connections per listener */

/* A listening socket and the policy it enforces. */
struct proxy_listener {
	TAILQ_ENTRY(proxy_listener)	 pr_entry;
	struct sockaddr_storage		 pr_ss;
	socklen_t			 pr_sslen;
	char				 pr_name[64];	/* addr:port */
	struct evconnlistener		*pr_evl;
	struct policy			*pr_policy;	/* the config's */
	int				 pr_seen;	/* reload mark */
	uint64_t			 pr_accepted;
};
TAILQ_HEAD(proxy_listeners, proxy_listener);

#endif /* SBXD_PROXY_H */
