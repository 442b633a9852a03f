// handoff.c: the kernel's floor for "one goroutine keeps 32 cached 4 KiB
// reads in flight" (aiobench op-32), with no Go scheduler in the way, in
// two shapes:
//
//   single   the application thread is the ring's issuer: it submits 16
//            reads per io_uring_enter and reaps, as fio's io_uring job.
//   handoff  the application thread only publishes SQEs and waits; an
//            issuer thread of its own (SINGLE_ISSUER|DEFER_TASKRUN), as
//            aio's owner, enters them and reaps, and they wake each
//            other through futexes only when the other sleeps. This is
//            the shape a library must take when the application's
//            threads may exit under their requests.
//   inline   aio's shape for a Batch of cached reads: the application
//            thread enters a plain ring (shared, so under a mutex) with
//            16 reads flagged RWF_NOWAIT and waits in the same
//            io_uring_enter for all 16 completions, so that nothing is
//            left in flight when the call returns, and a thread that
//            exits later takes no request with it.
//
// Build and run (liburing-dev):
//   cc -O2 -o /tmp/handoff scripts/floors/handoff.c -luring -lpthread
//   /tmp/handoff single|handoff|inline FILE SECONDS
// It prints reads/s and CPU microseconds per read (user+sys of the whole
// process, from getrusage), the same units as aiobench's ops/s and
// ops/cpu-s.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DEPTH 32
#define BATCH 16
#define BS 4096

static int fd;
static off_t nblocks;
static char *bufs[DEPTH];
static unsigned long long rnd = 88172645463325252ull;
static off_t pick(void) {
	rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17;
	return (off_t)(rnd % nblocks) * BS;
}
static double now(void) {
	struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
static double cpu(void) {
	struct rusage ru; getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void run_single(double secs) {
	struct io_uring ring;
	if (io_uring_queue_init(64, &ring, 0)) { perror("setup"); exit(1); }
	long done = 0; int inflight = 0, queued = 0;
	double t0 = now(), c0 = cpu();
	for (int i = 0; i < DEPTH; i++) {
		struct io_uring_sqe *s = io_uring_get_sqe(&ring);
		io_uring_prep_read(s, fd, bufs[i], BS, pick()); s->user_data = i;
		if (++queued == BATCH) { io_uring_submit(&ring); queued = 0; }
		inflight++;
	}
	while (now() - t0 < secs) {
		struct io_uring_cqe *c;
		if (io_uring_wait_cqe(&ring, &c)) { perror("wait"); exit(1); }
		int i = c->user_data;
		if (c->res != BS) { fprintf(stderr, "res %d\n", c->res); exit(1); }
		io_uring_cqe_seen(&ring, c); done++;
		struct io_uring_sqe *s = io_uring_get_sqe(&ring);
		io_uring_prep_read(s, fd, bufs[i], BS, pick()); s->user_data = i;
		if (++queued == BATCH) { io_uring_submit(&ring); queued = 0; }
	}
	double t = now() - t0, c = cpu() - c0;
	printf("single:  %.0f reads/s, %.2f us CPU/read, %.0f reads/cpu-s\n", done / t, c / done * 1e6, done / c);
}

// The handoff shape. Shared state, all under futex-style sleep/wake.
static struct io_uring hring;
static atomic_uint pending_tail;     // SQEs published by the app
static atomic_int owner_sleeping, app_sleeping;
static atomic_uint owner_word, app_word;
static atomic_long completed;
static atomic_int stop;
static int slot_done[DEPTH];
static atomic_uint done_count;        // completions the app has not taken
static pthread_mutex_t sqmu = PTHREAD_MUTEX_INITIALIZER;

static void fwait(atomic_uint *w, unsigned v) { syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void fwake(atomic_uint *w) { atomic_fetch_add(w, 1); syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void *owner(void *arg) {
	struct io_uring_params p = {0};
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if (io_uring_queue_init_params(64, &hring, &p)) { perror("setup"); exit(1); }
	atomic_store((atomic_int *)arg, 1);
	while (!atomic_load(&stop)) {
		pthread_mutex_lock(&sqmu);
		int n = io_uring_submit_and_get_events(&hring);
		pthread_mutex_unlock(&sqmu);
		(void)n;
		struct io_uring_cqe *c; unsigned head, got = 0;
		io_uring_for_each_cqe(&hring, head, c) {
			if (c->res != BS) { fprintf(stderr, "res %d\n", c->res); exit(1); }
			slot_done[c->user_data] = 1; got++;
		}
		io_uring_cq_advance(&hring, got);
		if (got) {
			atomic_fetch_add(&done_count, got);
			if (atomic_exchange(&app_sleeping, 0)) fwake(&app_word);
			continue;
		}
		// Sleep until the app publishes (or, with reads in flight, wait in
		// the kernel for them: the owner must run their task work).
		unsigned v = atomic_load(&owner_word);
		atomic_store(&owner_sleeping, 1);
		if (io_uring_sq_ready(&hring) == 0 && !atomic_load(&stop)) {
			if (io_uring_cq_ready(&hring) == 0 && io_uring_sq_ready(&hring) == 0) {
				// Reads in flight complete through task work the owner runs
				// in its own enter; cached reads complete inline, so an idle
				// owner sleeps on the futex.
				fwait(&owner_word, v);
			}
		}
		atomic_store(&owner_sleeping, 0);
	}
	return NULL;
}

static void run_handoff(double secs) {
	atomic_int ready = 0; pthread_t th;
	pthread_create(&th, NULL, owner, &ready);
	while (!atomic_load(&ready)) ;
	long done = 0; int queued = 0;
	double t0 = now(), c0 = cpu();
	pthread_mutex_lock(&sqmu);
	for (int i = 0; i < DEPTH; i++) {
		struct io_uring_sqe *s = io_uring_get_sqe(&hring);
		io_uring_prep_read(s, fd, bufs[i], BS, pick()); s->user_data = i;
	}
	pthread_mutex_unlock(&sqmu);
	if (atomic_exchange(&owner_sleeping, 0)) fwake(&owner_word);
	while (now() - t0 < secs) {
		unsigned v = atomic_load(&app_word);
		atomic_store(&app_sleeping, 1);
		if (atomic_load(&done_count) == 0) fwait(&app_word, v);
		atomic_store(&app_sleeping, 0);
		unsigned got = atomic_exchange(&done_count, 0);
		if (!got) continue;
		pthread_mutex_lock(&sqmu);
		for (int i = 0; i < DEPTH; i++) {
			if (!slot_done[i]) continue;
			slot_done[i] = 0; done++;
			struct io_uring_sqe *s = io_uring_get_sqe(&hring);
			io_uring_prep_read(s, fd, bufs[i], BS, pick()); s->user_data = i;
			queued++;
		}
		pthread_mutex_unlock(&sqmu);
		if (queued >= BATCH) { queued = 0; if (atomic_exchange(&owner_sleeping, 0)) fwake(&owner_word); }
		else if (atomic_exchange(&owner_sleeping, 0)) fwake(&owner_word);
	}
	double t = now() - t0, c = cpu() - c0;
	atomic_store(&stop, 1); fwake(&owner_word);
	pthread_join(th, NULL);
	printf("handoff: %.0f reads/s, %.2f us CPU/read, %.0f reads/cpu-s\n", done / t, c / done * 1e6, done / c);
}

static void run_inline(double secs) {
	struct io_uring ring;
	if (io_uring_queue_init(64, &ring, IORING_SETUP_SUBMIT_ALL)) { perror("setup"); exit(1); }
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	long done = 0; int slot = 0;
	double t0 = now(), c0 = cpu();
	while (now() - t0 < secs) {
		pthread_mutex_lock(&mu);
		for (int i = 0; i < BATCH; i++) {
			struct io_uring_sqe *s = io_uring_get_sqe(&ring);
			io_uring_prep_read(s, fd, bufs[slot], BS, pick());
			s->rw_flags = RWF_NOWAIT; s->user_data = slot;
			slot = (slot + 1) % DEPTH;
		}
		int got = 0;
		while (got < BATCH) {
			int r = io_uring_submit_and_wait(&ring, BATCH - got);
			if (r < 0 && r != -EINTR) { fprintf(stderr, "enter: %d\n", r); exit(1); }
			struct io_uring_cqe *c; unsigned head, n = 0;
			io_uring_for_each_cqe(&ring, head, c) {
				if (c->res != BS) { fprintf(stderr, "res %d (is FILE cached?)\n", c->res); exit(1); }
				n++;
			}
			io_uring_cq_advance(&ring, n);
			got += n;
		}
		pthread_mutex_unlock(&mu);
		done += BATCH;
	}
	double t = now() - t0, c = cpu() - c0;
	printf("inline:  %.0f reads/s, %.2f us CPU/read, %.0f reads/cpu-s\n", done / t, c / done * 1e6, done / c);
}

int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: %s single|handoff|inline FILE SECONDS\n", argv[0]); return 2; }
	fd = open(argv[2], O_RDONLY);
	if (fd < 0) { perror("open"); return 1; }
	struct stat st; fstat(fd, &st); nblocks = st.st_size / BS;
	for (int i = 0; i < DEPTH; i++) bufs[i] = aligned_alloc(4096, BS);
	double secs = atof(argv[3]);
	if (!strcmp(argv[1], "single")) run_single(secs);
	else if (!strcmp(argv[1], "inline")) run_inline(secs);
	else run_handoff(secs);
	return 0;
}
