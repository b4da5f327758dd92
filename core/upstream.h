/* HTTP transfers to upstream image APIs on one libcurl multi handle that
 * lives as long as the process (connections are reused across requests).
 * Callers start transfers and collect them as they finish, so n images run
 * in parallel and each can be retried on its own schedule. */
#ifndef IMAGEGW_UPSTREAM_H
#define IMAGEGW_UPSTREAM_H

#include <stddef.h>

#include "buf.h"

enum upstream_fail { UPSTREAM_OK, UPSTREAM_TIMEOUT, UPSTREAM_NETWORK, UPSTREAM_TOO_LARGE };

struct upstream_xfer {
	/* set by the caller before upstream_start */
	const char *url;
	struct buf headers; /* "Name: value\n" lines */
	struct buf body;    /* POST body; empty = GET */
	/* Or a POST body the caller owns and keeps alive until the transfer is
	 * collected (one body shared by the n slots of an edit); wins over body. */
	const char *body_ref;
	size_t body_ref_len;
	long timeout_ms;
	long connect_timeout_ms;
	size_t max_response; /* 0 = 64 MiB */
	void *user;	     /* the caller's cookie */
	/* results */
	long status; /* HTTP status; 0 when no response arrived */
	struct buf resp;
	char retry_after[32]; /* the Retry-After header, if any */
	struct buf
		resp_headers; /* the final response's header lines, "name: value\r\n" (16 KiB at most) */
	enum upstream_fail fail;
	char error[256]; /* libcurl's message when fail != UPSTREAM_OK */
	long elapsed_ms;
	/* private */
	void *easy;
	void *slist;
};

/* What an upstream's error answer means for the key and the request, as the
 * provider's codec reads it (core/gemini.c, core/openai.c); pool_judge acts
 * on it.  FAULT_BY_STATUS leaves the decision to the HTTP status. */
enum upstream_fault_kind {
	FAULT_BY_STATUS,
	FAULT_KEY_REJECTED,  /* the key is invalid: disable it */
	FAULT_DENIED,	     /* the key may not do this (e.g. this model): stop, keep the key */
	FAULT_OUT_OF_CREDIT, /* the account behind the key has no quota left: rest it long */
	FAULT_SAFETY,	     /* the upstream's content policy refused the prompt */
};

struct upstream_fault {
	enum upstream_fault_kind kind;
	char status[40];    /* Gemini `status`; OpenAI `error.type` */
	char reason[48];    /* Gemini ErrorInfo reason; OpenAI `error.code` */
	char message[400];  /* the upstream's message (never one that echoes a key) */
	double retry_delay; /* seconds the upstream asked to wait; -1 when it did not say */
};

/* libcurl's version string (with its TLS library). */
const char *upstream_library_version(void);
/* Creates the process's multi handle (idempotent); 0 or -1. */
int upstream_init(void);
void upstream_cleanup(void);
/* Starts a transfer; results arrive through upstream_wait.  0 or -1 (then
 * x->fail and x->error are set and the transfer counts as finished now). */
int upstream_start(struct upstream_xfer *x);
/* Drives transfers for up to max_wait_ms and returns one that finished, or
 * NULL if none did in that time (or none is running). */
struct upstream_xfer *upstream_wait(long max_wait_ms);
/* Runs one transfer to the end on its own connection, outside the multi
 * handle (for rare side calls such as an OAuth2 token exchange, which must
 * not be collected by another caller's upstream_wait).  0 when an answer
 * arrived (any status), -1 on a transport failure (x->fail, x->error). */
int upstream_perform(struct upstream_xfer *x);
/* Number of transfers started and not yet returned by upstream_wait. */
int upstream_running(void);
/* Copies the value of response header `name` (case-insensitive) from a
 * header block as resp_headers holds it into out, trimmed.  0, or -1 when
 * absent (out is then ""). */
int upstream_header(const char *block, const char *name, char *out, size_t len);
/* Resets a transfer's result fields and frees its buffers (the request
 * fields other than url and user are cleared too). */
void upstream_xfer_free(struct upstream_xfer *x);

#endif
