/* static-scrape — the floor under a /metrics scrape (loop_cost.sh): a process that does nothing
 * but what every exporter of the same exposition must do per scrape, and serves it over HTTP/1.1
 * (Connection: close) on 127.0.0.1:
 *   static-scrape TEXT [FILES]
 * TEXT: the exposition, read once into memory and sent as it is to every GET;
 * FILES: a list of paths, one per line (the cgroup files cellmuxd keeps open for its sessions),
 *   opened once and each read with pread(…, 0) before every answer: the kernel's part of the live
 *   values the text carries.
 * Prints "port N" when listening; on SIGTERM "served K cpu_us U files F": user + system time
 * from the first request on, for K answers. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static long long cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sigaction sa = { .sa_handler = on_term };
	socklen_t alen = sizeof(a);
	int *fds = NULL, nfds = 0, srv, one = 1;
	long long served = 0, start = -1;
	char head[256], req[4096], val[256], line[4096];
	struct stat st;
	char *body;
	FILE *f;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: static-scrape TEXT [FILES]\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f || fstat(fileno(f), &st) < 0 || !(body = malloc((size_t)st.st_size + 1)) ||
	    fread(body, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		perror(argv[1]);
		return 1;
	}
	fclose(f);
	if (argc == 3) {
		if (!(f = fopen(argv[2], "r"))) {
			perror(argv[2]);
			return 1;
		}
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			if (!line[0])
				continue;
			fds = realloc(fds, (size_t)(nfds + 1) * sizeof(*fds));
			if (!fds || (fds[nfds] = open(line, O_RDONLY | O_CLOEXEC)) < 0) {
				perror(line);
				return 1;
			}
			nfds++;
		}
		fclose(f);
	}
	int hlen = snprintf(head, sizeof(head),
			    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			    "Content-Length: %lld\r\nConnection: close\r\n\r\n",
			    (long long)st.st_size);
	srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv < 0 || setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(srv, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(srv, 16) < 0 ||
	    getsockname(srv, (struct sockaddr *)&a, &alen) < 0) {
		perror("listen");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: accept() returns EINTR */
	printf("port %d\n", ntohs(a.sin_port));
	fflush(stdout);
	while (!stop) {
		int c = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
		size_t got = 0;

		if (c < 0)
			continue;
		if (start < 0)
			start = cpu_us();
		while (got < sizeof(req) - 1) {
			ssize_t k = recv(c, req + got, sizeof(req) - 1 - got, 0);

			if (k <= 0)
				break;
			got += (size_t)k;
			req[got] = 0;
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		if (got >= 4 && !memcmp(req, "GET ", 4)) {
			for (int i = 0; i < nfds; i++)
				if (pread(fds[i], val, sizeof(val), 0) < 0)
					perror("pread");
			if (send_all(c, head, (size_t)hlen) == 0 &&
			    send_all(c, body, (size_t)st.st_size) == 0)
				served++;
		}
		close(c);
	}
	printf("served %lld cpu_us %lld files %d\n", served, start < 0 ? 0 : cpu_us() - start, nfds);
	return 0;
}
