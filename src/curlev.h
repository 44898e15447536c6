/*
 * curlev.h: libcurl's multi interface on the daemon's event loop
 * (src/curlev.c), for the parts that call HTTP services.
 */

#ifndef SBXD_CURLEV_H
#define SBXD_CURLEV_H

#include <curl/curl.h>

struct event_base;
struct curlev;

/* A transfer's end: the easy handle, curl's result, the user's arg. */
typedef void	(*curlev_cb)(CURL *, CURLcode, void *);

struct curlev	*curlev_new(struct event_base *, long);
void		 curlev_free(struct curlev *);
int		 curlev_add(struct curlev *, CURL *, curlev_cb, void *);
void		 curlev_remove(struct curlev *, CURL *);
CURLcode	 curlev_ca(CURL *, void *, void *);
void		 curlev_slist_free(struct curl_slist *);

#endif /* SBXD_CURLEV_H */
