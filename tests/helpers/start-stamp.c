/* start-stamp.c — a test worker that says when it started and dies: prints its CLOCK_MONOTONIC
 * start as "cmx-start <ns> <tag>" on stdout, then exits with the code given, or raises SIGSEGV. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timespec ts;

	/* First thing: the stamp is as close to exec as a process can get. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (argc != 3) {
		fprintf(stderr, "usage: start-stamp TAG EXIT-CODE|segv\n");
		return 2;
	}
	/* The daemon's log may prefix the line ("session NAME: "); the marker is found anywhere. */
	printf("cmx-start %lld %s\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, argv[1]);
	fflush(stdout);
	if (!strcmp(argv[2], "segv"))
		raise(SIGSEGV);
	return atoi(argv[2]);
}
