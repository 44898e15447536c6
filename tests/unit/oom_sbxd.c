/*
 * oom_sbxd.c: the daemon's main file, built into test_oom with its main
 * renamed, so the test can run the real daemon in a child of its own.
 */

#define main	sbxd_main
#include "../../src/sbxd.c"
