// direct.c: the kernel's floor for aiobench's direct-32 (O_DIRECT 4 KiB
// random reads, 32 in flight) in the three shapes a library can take,
// with no Go scheduler in the way:
//
//   single    the application thread enters the ring itself: it submits
//             what it has before each wait and reaps (fio's io_uring job).
//   watcher   aio's shape: the application thread publishes SQEs and
//             sleeps; a ring owner thread (SINGLE_ISSUER|DEFER_TASKRUN)
//             enters them, and sleeps on a futex when it has nothing to
//             do; a watcher thread blocked on the ring's eventfd wakes
//             the owner when completions are ready (in aio: the eventfd
//             is in Go's netpoller and the watcher is a goroutine).
//   enter     the owner waits in io_uring_enter itself for completions,
//             and the application wakes it by writing an eventfd that the
//             ring polls (IORING_OP_POLL_ADD, multishot): one hop fewer.
//
// A library whose application threads may exit under their requests must
// take one of the last two (issue #11). Each prints reads/s and CPU
// microseconds per read (getrusage of the whole process).
//
// Build and run (liburing-dev):
//   cc -O2 -o /tmp/direct scripts/floors/direct.c -luring -lpthread
//   /tmp/direct single|watcher|enter FILE SECONDS
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DEPTH 32
#define BS 4096
#define POKE_TAG 0xffffffffull

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
static void report(const char *name, long done, double t, double c) {
	printf("%-8s %.0f reads/s, %.2f us CPU/read\n", name, done / t, c / done * 1e6);
}
static void check(int res) {
	if (res != BS) { fprintf(stderr, "read: %d\n", res); exit(1); }
}

static void run_single(double secs) {
	struct io_uring ring;
	if (io_uring_queue_init(64, &ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)) { perror("setup"); exit(1); }
	long done = 0;
	double t0 = now(), c0 = cpu();
	for (int i = 0; i < DEPTH; i++) {
		struct io_uring_sqe *s = io_uring_get_sqe(&ring);
		io_uring_prep_read(s, fd, bufs[i], BS, pick()); s->user_data = i;
	}
	while (now() - t0 < secs) {
		io_uring_submit_and_wait(&ring, 1);
		struct io_uring_cqe *c; unsigned head, got = 0;
		io_uring_for_each_cqe(&ring, head, c) {
			check(c->res);
			int i = c->user_data;
			struct io_uring_sqe *s = io_uring_get_sqe(&ring);
			io_uring_prep_read(s, fd, bufs[i], BS, pick()); s->user_data = i;
			got++;
		}
		io_uring_cq_advance(&ring, got); done += got;
	}
	report("single", done, now() - t0, cpu() - c0);
}

// fifo is single with aiobench's Op loop: slots are waited for in order;
// before it waits for the oldest, the slots already complete are
// refilled, but those that complete while it waits are refilled only
// after the oldest has.
static void run_fifo(double secs) {
	struct io_uring ring;
	if (io_uring_queue_init(64, &ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)) { perror("setup"); exit(1); }
	int complete[DEPTH] = {0};
	long done = 0;
	double t0 = now(), c0 = cpu();
	for (int i = 0; i < DEPTH; i++) {
		struct io_uring_sqe *s = io_uring_get_sqe(&ring);
		io_uring_prep_read(s, fd, bufs[i], BS, pick()); s->user_data = i;
	}
	io_uring_submit(&ring);
	for (int k = 0; now() - t0 < secs; k = (k + 1) % DEPTH) {
		for (int t = 0; t < DEPTH && !complete[k]; t++) { // refill what is done, then wait for k
			if (t == k || !complete[t]) continue;
			complete[t] = 0; done++;
			struct io_uring_sqe *s = io_uring_get_sqe(&ring);
			io_uring_prep_read(s, fd, bufs[t], BS, pick()); s->user_data = t;
		}
		while (!complete[k]) {
			io_uring_submit_and_wait(&ring, 1);
			struct io_uring_cqe *c; unsigned head, got = 0;
			io_uring_for_each_cqe(&ring, head, c) { check(c->res); complete[c->user_data] = 1; got++; }
			io_uring_cq_advance(&ring, got);
		}
		complete[k] = 0; done++;
		struct io_uring_sqe *s = io_uring_get_sqe(&ring);
		io_uring_prep_read(s, fd, bufs[k], BS, pick()); s->user_data = k;
	}
	report("fifo", done, now() - t0, cpu() - c0);
}

// The hand-off shapes: the application publishes slots to refill under
// sqmu; the owner turns them into SQEs (so only it touches the ring).
static struct io_uring ring;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int refill[DEPTH], nrefill;    // under mu: slots the app wants read
static int finished[DEPTH], nfinished; // under mu: slots the owner completed
static atomic_uint owner_word, app_word;
static atomic_int owner_sleeping, app_sleeping, stop;
static int pokefd = -1, ringfd = -1;
static int shape; // 1 watcher, 2 enter

static void fwait(atomic_uint *w, unsigned v) { syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void fwake(atomic_uint *w) { atomic_fetch_add(w, 1); syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void poke_owner(void) {
	if (!atomic_exchange(&owner_sleeping, 0)) return;
	if (shape == 1) { fwake(&owner_word); return; }
	uint64_t one = 1;
	if (write(pokefd, &one, 8) != 8) { perror("poke"); exit(1); }
}

static void arm_poke(void) {
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);
	io_uring_prep_poll_multishot(s, pokefd, POLLIN);
	s->user_data = POKE_TAG;
}

static void *watcher(void *arg) {
	(void)arg;
	uint64_t v;
	while (read(ringfd, &v, 8) == 8 && !atomic_load(&stop)) {
		if (atomic_exchange(&owner_sleeping, 0)) fwake(&owner_word);
	}
	return NULL;
}

static void *owner(void *arg) {
	if (io_uring_queue_init(64, &ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)) { perror("setup"); exit(1); }
	if (shape == 1) {
		ringfd = eventfd(0, EFD_CLOEXEC);
		io_uring_register_eventfd(&ring, ringfd);
	} else {
		pokefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		arm_poke();
	}
	atomic_store((atomic_int *)arg, 1);
	int inflight = 0;
	while (!atomic_load(&stop)) {
		pthread_mutex_lock(&mu);
		for (int k = 0; k < nrefill; k++) {
			int i = refill[k];
			struct io_uring_sqe *s = io_uring_get_sqe(&ring);
			io_uring_prep_read(s, fd, bufs[i], BS, pick()); s->user_data = i;
		}
		inflight += nrefill; nrefill = 0;
		pthread_mutex_unlock(&mu);
		io_uring_submit_and_get_events(&ring);
		struct io_uring_cqe *c; unsigned head, got = 0, reads = 0;
		io_uring_for_each_cqe(&ring, head, c) {
			got++;
			if (c->user_data == POKE_TAG) {
				uint64_t v; while (read(pokefd, &v, 8) == 8) ;
				if (!(c->flags & IORING_CQE_F_MORE)) arm_poke();
				continue;
			}
			check(c->res);
			pthread_mutex_lock(&mu); finished[nfinished++] = c->user_data; pthread_mutex_unlock(&mu);
			reads++;
		}
		io_uring_cq_advance(&ring, got);
		inflight -= reads;
		if (reads) {
			if (atomic_exchange(&app_sleeping, 0)) fwake(&app_word);
			continue;
		}
		// Nothing reaped: sleep until the app publishes or reads complete.
		unsigned v = atomic_load(&owner_word);
		atomic_store(&owner_sleeping, 1);
		pthread_mutex_lock(&mu); int more = nrefill; pthread_mutex_unlock(&mu);
		if (more || atomic_load(&stop)) { atomic_store(&owner_sleeping, 0); continue; }
		if (shape == 1) {
			if (io_uring_cq_ready(&ring) == 0) fwait(&owner_word, v);
		} else {
			io_uring_submit_and_wait(&ring, 1); // completions, or the poke's
		}
		atomic_store(&owner_sleeping, 0);
	}
	return NULL;
}

static void run_handoff(double secs) {
	atomic_int ready = 0; pthread_t th, wt;
	pthread_create(&th, NULL, owner, &ready);
	while (!atomic_load(&ready)) ;
	if (shape == 1) pthread_create(&wt, NULL, watcher, NULL);
	long done = 0;
	double t0 = now(), c0 = cpu();
	pthread_mutex_lock(&mu);
	for (int i = 0; i < DEPTH; i++) refill[nrefill++] = i;
	pthread_mutex_unlock(&mu);
	poke_owner();
	int mine[DEPTH];
	while (now() - t0 < secs) {
		unsigned v = atomic_load(&app_word);
		atomic_store(&app_sleeping, 1);
		pthread_mutex_lock(&mu); int n = nfinished; pthread_mutex_unlock(&mu);
		if (n == 0) fwait(&app_word, v);
		atomic_store(&app_sleeping, 0);
		pthread_mutex_lock(&mu);
		n = nfinished; memcpy(mine, finished, n * sizeof(int)); nfinished = 0;
		for (int k = 0; k < n; k++) refill[nrefill++] = mine[k];
		pthread_mutex_unlock(&mu);
		done += n;
		if (n) poke_owner();
	}
	double t = now() - t0, c = cpu() - c0;
	atomic_store(&stop, 1);
	poke_owner(); fwake(&owner_word);
	if (shape == 2) { uint64_t one = 1; write(pokefd, &one, 8); }
	pthread_join(th, NULL);
	if (shape == 1) { uint64_t one = 1; write(ringfd, &one, 8); pthread_join(wt, NULL); }
	report(shape == 1 ? "watcher" : "enter", done, t, c);
}

int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: %s single|watcher|enter FILE SECONDS\n", argv[0]); return 2; }
	fd = open(argv[2], O_RDONLY | O_DIRECT);
	if (fd < 0) { perror("open"); return 1; }
	struct stat st; fstat(fd, &st); nblocks = st.st_size / BS;
	for (int i = 0; i < DEPTH; i++) bufs[i] = aligned_alloc(4096, BS);
	double secs = atof(argv[3]);
	if (!strcmp(argv[1], "single")) run_single(secs);
	else if (!strcmp(argv[1], "fifo")) run_fifo(secs);
	else { shape = strcmp(argv[1], "watcher") ? 2 : 1; run_handoff(secs); }
	return 0;
}
