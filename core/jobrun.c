/* The job worker and how it is started.  Why a separate process: a FastCGI
 * server sends the next request to a responder as soon as it has answered,
 * so work done after FCGX_Finish_r delays that request, and mod_fcgid may
 * kill a responder it believes idle (docs/architecture.md).  Why exec: the
 * worker must not share the responder's SQLite connection, libcurl handles,
 * locks or FastCGI sockets; a fresh image of the same binary shares nothing
 * but the configuration, which it reads as the responder did. */
#include "jobrun.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "genreq.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "produce.h"
#include "ratelimit.h"
#include "xalloc.h"

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- starting the worker ------------------------------------------------- */

/* What the forked processes tell the responder through the pipe. */
struct spawn_report {
	char kind; /* 'P': the worker's pid; 'E': an errno */
	int value;
};

static void report(int fd, char kind, int value)
{
	struct spawn_report r;
	memset(&r, 0, sizeof r); /* no uninitialised padding goes down the pipe */
	r.kind = kind;
	r.value = value;
	ssize_t w = write(fd, &r, sizeof r);
	(void)w; /* nothing to do if the responder has gone */
}

/* In the worker before exec (only async-signal-safe calls): standard input
 * and output become /dev/null; standard error is kept when it is a file or a
 * terminal (lighttpd's and Apache's error log, where log lines go when
 * log_file is empty) and replaced when it is a pipe or socket, which a web
 * server may be waiting on.  Every other descriptor — the FastCGI listening
 * socket, the accepted connection, the database, the log — closes at exec. */
static void detach_fds(int keep)
{
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		struct stat sb;
		if (fstat(2, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISCHR(sb.st_mode)))
			dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	/* Kernels before 5.11: mark them one by one. */
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		if (fd != keep)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int jobrun_spawn(const char *id, long *pid)
{
	int p[2];
	if (pid)
		*pid = 0;
	/* The binary to exec, by name: under a wrapper such as valgrind,
	 * /proc/self/exe is the wrapper's own program, while readlink reports
	 * imagegw.  /proc/self/exe stays the fallback (a binary replaced on disk
	 * since this process started). */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid_t mid = fork();
	if (mid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (mid == 0) {
		/* The intermediate: a new session (so the web server's signals to
		 * its process group never reach the worker), one more fork (so
		 * the worker is no child of the responder and init reaps it),
		 * then gone. */
		close(p[0]);
		setsid();
		pid_t w = fork();
		if (w != 0) {
			report(p[1], w < 0 ? 'E' : 'P', w < 0 ? errno : (int)w);
			_exit(w < 0 ? 1 : 0);
		}
		int fd = p[1];
		if (fd <= 2) /* keep the pipe clear of the three we replace */
			fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		detach_fds(fd);
		char *const argv[] = {"imagegw", "jobs", "run", (char *)id, NULL};
		if (self[0])
			execv(self, argv);
		execv("/proc/self/exe", argv);
		report(fd, 'E', errno);
		_exit(127);
	}
	close(p[1]);
	/* EOF comes once the intermediate has exited and the worker has exec'd
	 * (the pipe is close-on-exec): microseconds to a few milliseconds. */
	struct spawn_report r;
	long worker = 0;
	int err = 0;
	for (;;) {
		ssize_t got = read(p[0], &r, sizeof r);
		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)sizeof r)
			break;
		if (r.kind == 'P')
			worker = r.value;
		else
			err = r.value ? r.value : EIO;
	}
	close(p[0]);
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	if (err || worker <= 0) {
		errno = err ? err : ECHILD;
		return -1;
	}
	if (pid)
		*pid = worker;
	return 0;
}

/* ---- one model, in its own process ---------------------------------------- */

static void log_model(const struct job *j, int i, enum img_err code, const struct produce *pr,
		      long duration_ms, int cached)
{
	struct log_event ev;
	log_begin(&ev, code == IMG_OK ? LOG_INFO : LOG_WARN, "job_model");
	log_str(&ev, "request_id", j->id);
	log_str(&ev, "job_id", j->id);
	log_str(&ev, "model", j->results[i].model);
	log_int(&ev, "index", i);
	log_str(&ev, "status", code == IMG_OK ? "completed" : "failed");
	log_int(&ev, "duration_ms", duration_ms);
	log_str(&ev, "provider", pr->gen.provider);
	log_str(&ev, "resolution", pr->plan.image_size);
	log_str(&ev, "aspect_ratio", pr->plan.aspect_ratio);
	log_str(&ev, "prompt_hash", pr->plan.prompt_hash);
	log_str(&ev, "account", pr->gen.account);
	if (pr->plan.revised_prompt)
		log_str(&ev, "cache",
			cached				? "hit"
			: pr->mode == PRODUCE_CACHE_USE ? "miss"
							: "bypass");
	if (code != IMG_OK) {
		const struct err_info *ei = err_info(code);
		log_str(&ev, "error_code", ei->code);
		log_str(&ev, "error_type", ei->error_type);
		log_str(&ev, "category", ei->category);
	}
	log_end(&ev);
}

/* Runs model i of the job: the cache-aware produce_run with the job's
 * request, then the result (its image kept by the job's row).  Returns the
 * child's exit status. */
static int run_model(const struct config *cfg, const struct job *j, int i)
{
	char err[256];
	struct sqlite3 *db = db_open(cfg, err, sizeof err);
	if (!db) {
		log_msg(LOG_ERROR, "job %s: model %d: database unavailable: %s", j->id, i, err);
		return 1;
	}
	long t0 = now_ms();
	int rc = 1, applied = -1;
	struct gen_req r;
	struct produce pr;
	struct img_error e;
	struct job_result out;
	memset(&r, 0, sizeof r);
	memset(&pr, 0, sizeof pr);
	memset(&out, 0, sizeof out);
	err_clear(&e);
	int started = job_model_start(cfg, db, j->id, i, (long)time(NULL));
	if (started != 1) {
		rc = started == 0 ? 0 : 1; /* 0: reaped or done meanwhile */
		goto out;
	}
	enum img_err code = genreq_parse_json(cfg, j->request, strlen(j->request), &r, &e);
	if (code == IMG_OK) {
		free(r.model);
		r.model = xstrdup(j->results[i].model);
		/* need_files = 0: a hit's bytes are read, so the job can keep
		 * them even if the cache evicts the entry meanwhile. */
		code = produce_run(cfg, db, &r, (enum produce_cache_mode)j->cache_mode, 0, j->id,
				   &pr, &e);
		produce_settle(cfg, db, &pr);
	}
	out.idx = i;
	if (code == IMG_OK) {
		const struct produce_item *it = &pr.items[0];
		out.duration_ms = now_ms() - t0;
		out.cached = it->cached;
		if (it->stored)
			out.image = it->entry;
		snprintf(out.image_size, sizeof out.image_size, "%s", pr.plan.image_size);
		snprintf(out.aspect_ratio, sizeof out.aspect_ratio, "%s", pr.plan.aspect_ratio);
		out.revised_prompt = pr.plan.revised_prompt;
		applied = job_model_complete(cfg, db, j->id, &out, it->b64, it->b64_len,
					     (long)time(NULL));
		if (applied < 0)
			code = err_set(&e, IMG_INTERNAL, NULL,
				       "The image was made but could not be stored.");
	}
	if (code != IMG_OK)
		applied = job_model_fail(cfg, db, j->id, i, &e, now_ms() - t0, (long)time(NULL));
	/* The key's daily images count what was generated upstream: a hit or a
	 * failure gives its image back. */
	if (applied == 1 && j->budget_key > 0 && (code != IMG_OK || out.cached))
		ratelimit_images_refund(db, j->budget_key, j->budget_day, 1);
	log_model(j, i, code, &pr, now_ms() - t0, out.cached);
	rc = applied >= 0 ? 0 : 1;
out:
	metrics_flush(db, -1); /* this model's upstream attempts and images */
	produce_free(&pr);
	genreq_free(&r);
	db_close(db);
	return rc;
}

/* ---- the worker ------------------------------------------------------------ */

/* why[i] of a model this worker did not start: another worker has it. */
#define NOT_OURS INT_MIN

/* Fails, with IMG_INTERNAL, every model whose process (started by this
 * worker) ended without a result: crashed, killed, or could not be started
 * or record it. */
static void fail_unfinished(const struct config *cfg, struct sqlite3 *db, const struct job *j,
			    const int *why)
{
	struct job now;
	if (job_get(db, j->id, &now) != 1)
		return;
	for (int i = 0; i < now.n && i < j->n; i++) {
		enum job_model s = now.results[i].state;
		if (why[i] == NOT_OURS || (s != JOB_MODEL_PENDING && s != JOB_MODEL_RUNNING))
			continue;
		struct img_error e;
		if (why[i] < 0)
			err_set(&e, IMG_INTERNAL, NULL,
				"The worker could not start a process for this model.");
		else if (WIFSIGNALED(why[i]))
			err_set(&e, IMG_INTERNAL, NULL,
				"The process making this model's image stopped (signal %d).",
				WTERMSIG(why[i]));
		else
			err_set(&e, IMG_INTERNAL, NULL,
				"The process making this model's image ended without a result.");
		if (job_model_fail(cfg, db, j->id, i, &e, -1, (long)time(NULL)) == 1 &&
		    now.budget_key > 0)
			ratelimit_images_refund(db, now.budget_key, now.budget_day, 1);
	}
	job_free(&now);
}

static void log_job(const struct job *j, long duration_ms)
{
	int done = 0;
	for (int i = 0; i < j->n; i++)
		done += j->results[i].state == JOB_MODEL_COMPLETED;
	struct log_event ev;
	log_begin(&ev, j->status == JOB_COMPLETED ? LOG_INFO : LOG_WARN, "job");
	log_str(&ev, "request_id", j->id);
	log_str(&ev, "job_id", j->id);
	log_str(&ev, "status", job_status_name(j->status));
	log_int(&ev, "models", j->n);
	log_int(&ev, "images", done);
	log_int(&ev, "duration_ms", duration_ms);
	log_end(&ev);
}

/* How many finished jobs past their retention one worker deletes on its way
 * out (`imagegw jobs reap` deletes all of them). */
#define PRUNE_PER_JOB 20

int jobrun_main(struct config *cfg, const char *id)
{
	/* Inherited dispositions: a web server may have ignored SIGCHLD (then
	 * our children would vanish unwaited), libfcgi's SIGPIPE handler is
	 * gone after exec. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (!ulid_valid("job_", id)) {
		log_msg(LOG_ERROR, "jobs run: '%.40s' is not a job id", id);
		return 2;
	}
	long t0 = now_ms();
	char err[256];
	struct sqlite3 *db = db_open(cfg, err, sizeof err);
	if (!db) {
		log_msg(LOG_ERROR, "job %s: database unavailable: %s", id, err);
		return 1;
	}
	/* As app_start: keys added with `imagegw account add` count. */
	if (pool_sync(cfg, db) > 0)
		cfg->gemini_configured = 1;
	struct job j;
	int *pids = NULL, *why = NULL, child = 0, rc = 0;
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	int found = job_get(db, id, &j);
	if (found != 1) {
		log_msg(LOG_ERROR, "job %s: %s", id, found == 0 ? "no such job" : "cannot be read");
		rc = 1;
		goto out;
	}
	if (job_status_final(j.status))
		goto out;
	job_worker_started(db, id, (long)getpid(), (long)time(NULL));
	/* No connection may cross a fork: each child opens its own. */
	db_close(db);
	db = NULL;

	pids = xcalloc((size_t)j.n, sizeof *pids);
	why = xcalloc((size_t)j.n, sizeof *why);
	int running = 0;
	for (int i = 0; i < j.n; i++) {
		why[i] = NOT_OURS;
		if (j.results[i].state != JOB_MODEL_PENDING)
			continue;
		pid_t p = fork();
		if (p == 0) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			child = 1;
			rc = run_model(cfg, &j, i);
			goto out;
		}
		pids[i] = p < 0 ? -1 : (int)p;
		why[i] = p < 0 ? -1 : 0;
		running += p > 0;
		if (p < 0)
			log_msg(LOG_ERROR, "job %s: fork for model %d failed: %s", id, i,
				strerror(errno));
	}

	db = db_open(cfg, err, sizeof err);
	int hb = cfg->job_timeout_seconds / 4;
	hb = hb < 1 ? 1 : hb > 10 ? 10 : hb;
	long last_hb = (long)time(NULL);
	while (running > 0) {
		int status;
		pid_t w = waitpid(-1, &status, WNOHANG);
		if (w > 0) {
			for (int i = 0; i < j.n; i++)
				if (pids[i] == w) {
					why[i] = status;
					pids[i] = 0;
					running--;
				}
			continue;
		}
		if (w < 0 && errno != EINTR)
			break;
		/* Alive and waiting on the upstream: that is progress too. */
		long now = (long)time(NULL);
		if (now - last_hb >= hb) {
			job_heartbeat(db, id, now);
			last_hb = now;
		}
		struct timespec nap = {1, 0};
		sigtimedwait(&chld, NULL, &nap);
	}
	if (db) {
		fail_unfinished(cfg, db, &j, why);
		struct job fin;
		if (job_get(db, id, &fin) == 1) {
			log_job(&fin, now_ms() - t0);
			job_free(&fin);
		}
		job_prune(cfg, db, (long)time(NULL), PRUNE_PER_JOB);
	}
out:
	if (!child)
		sigprocmask(SIG_SETMASK, &old, NULL);
	free(pids);
	free(why);
	if (found == 1)
		job_free(&j);
	db_close(db);
	return rc;
}
