// nowait.c: the kernel's floor for aiobench's read-1 (one caller, cached
// 4 KiB reads at random offsets), with no Go in the way, for the three
// calls a reader can make:
//
//   pread     pread64(2): what os.File.ReadAt makes. It blocks the thread
//             when the page is not cached, and nothing can cancel it then.
//   nowait    preadv2(2) with RWF_NOWAIT: what aio's portable backend makes
//             in the caller, so that a read that would wait for the disk
//             goes to a worker (where a context can still cancel it)
//             instead of blocking the caller's thread.
//   uring     io_uring, one IORING_OP_READ with RWF_NOWAIT per
//             io_uring_enter(SQ and CQ in one call): what aio's io_uring
//             backend does in the caller (its inline ring).
//
// Build and run (liburing-dev):
//   cc -O2 -o /tmp/nowait scripts/floors/nowait.c -luring
//   /tmp/nowait FILE SECONDS ROUNDS
// FILE must be cached (read it once first). Each round runs the three
// for SECONDS each, in rotated order; it prints ns per read for each.
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long rng = 88172645463325252ULL;
static unsigned long long next(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char buf[4096] __attribute__((aligned(4096)));

// run reads for secs seconds with method m and returns ns per read.
static double run(int m, int fd, long blocks, struct io_uring *ring, double secs) {
	long n = 0;
	double start = now(), end = start + secs;
	while (1) {
		for (int i = 0; i < 1024; i++) {
			off_t off = (off_t)(next() % blocks) * 4096;
			ssize_t r;
			if (m == 0) {
				r = pread(fd, buf, sizeof buf, off);
			} else if (m == 1) {
				struct iovec iov = {buf, sizeof buf};
				r = preadv2(fd, &iov, 1, off, RWF_NOWAIT);
			} else {
				struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
				io_uring_prep_read(sqe, fd, buf, sizeof buf, off);
				sqe->rw_flags = RWF_NOWAIT;
				struct io_uring_cqe *cqe;
				if (io_uring_submit_and_wait(ring, 1) < 0 || io_uring_peek_cqe(ring, &cqe) != 0) {
					fprintf(stderr, "io_uring failed\n");
					exit(1);
				}
				r = cqe->res;
				io_uring_cqe_seen(ring, cqe);
			}
			if (r != sizeof buf) {
				fprintf(stderr, "method %d: short or failed read (%zd) at %lld: is the file cached?\n", m, r, (long long)off);
				exit(1);
			}
		}
		n += 1024;
		double t = now();
		if (t >= end)
			return (t - start) * 1e9 / n;
	}
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: nowait FILE SECONDS ROUNDS\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	struct stat st;
	fstat(fd, &st);
	long blocks = st.st_size / 4096;
	double secs = atof(argv[2]);
	int rounds = atoi(argv[3]);
	struct io_uring ring;
	if (io_uring_queue_init(8, &ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) < 0) {
		fprintf(stderr, "io_uring_queue_init failed\n");
		return 1;
	}
	printf("round  pread ns  nowait ns  uring ns\n");
	for (int r = 0; r < rounds; r++) {
		double ns[3];
		for (int k = 0; k < 3; k++) {
			int m = (r + k) % 3;
			ns[m] = run(m, fd, blocks, &ring, secs);
		}
		printf("%5d  %8.0f  %9.0f  %8.0f\n", r, ns[0], ns[1], ns[2]);
	}
	return 0;
}
