/*
 * unit.h: the unit test runner.  A test file holds a table of
 * { "name", fn } and calls unit_main; each fn returns 0 when it passes
 * and cleans up under an end: label.
 */

#ifndef SBXD_UNIT_H
#define SBXD_UNIT_H

#include <sys/types.h>

#include <stddef.h>
#include <string.h>

struct unit_test {
	const char	*name;
	int		(*fn)(void);
};

void	unit_fail(const char *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
int	unit_main(const char *, const struct unit_test *, size_t, int,
	    char **);
char	*unit_tmpdir(void);

/* A throwaway OS user, as root; unit_user_remove kills its processes. */
struct unit_user {
	char	 uu_name[32];
	uid_t	 uu_uid;
	gid_t	 uu_gid;
	int	 uu_made;
};
int	unit_user_make(struct unit_user *, const char *, uid_t, uid_t,
	    const char *);
void	unit_user_remove(struct unit_user *);
int	unit_write(const char *, const char *);
void	unit_rmtree(const char *);
int	unit_nfds(void);

/* An event loop for tests of the daemon's callbacks. */
struct event_base;
struct event_base *unit_loop_start(int);
void	unit_loop_stop(struct event_base *);
double	unit_now(void);
int	unit_loop_until(struct event_base *, int (*)(void *), void *, double);
int	unit_loop_counts(struct event_base *, const void *, size_t, int,
	    double);

/* Fail the test and jump to its cleanup unless cond holds. */
#define CHECK(cond) do {						\
	if (!(cond)) {							\
		unit_fail(__FILE__, __LINE__, "%s", #cond);		\
		goto end;						\
	}								\
} while (0)

#define CHECK_INT(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (_a != _b) {							\
		unit_fail(__FILE__, __LINE__, "%s == %lld, want %lld",	\
		    #a, _a, _b);					\
		goto end;						\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *_a = (a), *_b = (b);				\
	if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) {		\
		unit_fail(__FILE__, __LINE__, "%s == \"%s\", want \"%s\"", \
		    #a, _a ? _a : "(null)", _b ? _b : "(null)");	\
		goto end;						\
	}								\
} while (0)

#define UNIT_MAIN(suite, tests)						\
int									\
main(int argc, char *argv[])						\
{									\
	return (unit_main(suite, tests, sizeof(tests) / sizeof(tests[0]), \
	    argc, argv));						\
}

#endif /* SBXD_UNIT_H */
