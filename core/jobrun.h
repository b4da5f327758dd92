/* Running a job outside the responder (SPEC 2.4).  The responder hands the
 * job to a detached worker — double fork, setsid, every inherited descriptor
 * closed, then exec of this same binary as `imagegw jobs run <id>` — and goes
 * straight back to accepting.  The worker runs every model in its own child
 * process, in parallel, each with its own database connection, through the
 * cache-aware produce_run, and keeps the job alive with a heartbeat. */
#ifndef IMAGEGW_JOBRUN_H
#define IMAGEGW_JOBRUN_H

struct config;

/* Starts the detached worker for job id and returns once the worker process
 * has exec'd (a few milliseconds): nothing is left for the caller to reap.
 * 0 with *pid (may be NULL) = the worker's pid, or -1 with errno set (fork
 * or exec failed; no worker runs). */
int jobrun_spawn(const char *id, long *pid);

/* The worker: `imagegw jobs run <id>`.  Runs every pending model of the job
 * in parallel (one child process each), records each result as it arrives,
 * and returns when all are done.  Returns the process exit status.  In the
 * children it returns too (after their model), so both exit through the
 * caller's normal cleanup. */
int jobrun_main(struct config *cfg, const char *id);

#endif
