/* Structured logging (SPEC section 7): one JSON object per line (or a
 * readable text line) to log_file or stderr, written with a single write()
 * so lines from concurrent processes never interleave. */
#ifndef IMAGEGW_LOG_H
#define IMAGEGW_LOG_H

#include "buf.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct config;

/* An event being assembled; fields are appended in call order. */
struct log_event {
	struct buf b;
	enum log_level level;
	int active; /* 0 when the level is filtered out: calls are no-ops */
};

/* Opens the log destination named by the config (stderr when empty).
 * Returns 0, or -1 when the file cannot be opened (logging goes to stderr). */
int log_open(const struct config *cfg);
/* Switches to stderr at level info, for use before a config is loaded. */
void log_default(void);
void log_close(void);

void log_begin(struct log_event *ev, enum log_level level, const char *event);
/* Adds a string field; NULL or "" values are left out (absent when not applicable). */
void log_str(struct log_event *ev, const char *key, const char *val);
void log_int(struct log_event *ev, const char *key, long long val);
/* Writes the line and frees the event. */
void log_end(struct log_event *ev);

/* A one-field "message" event, for warnings and start-up errors. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
