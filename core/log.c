/* JSON-lines logger.  Each event is built in memory and written with one
 * write(2) on an O_APPEND descriptor, so concurrent FastCGI processes sharing
 * a log file produce whole lines. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "json.h"

static int log_fd = 2;
static enum log_level log_min = LOG_INFO;
static int log_text;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_open(const struct config *cfg)
{
	log_close();
	log_min = LOG_INFO;
	for (int i = 0; i < 4; i++)
		if (strcmp(cfg->log_level, level_names[i]) == 0)
			log_min = (enum log_level)i;
	log_text = strcmp(cfg->log_format, "text") == 0;
	if (!cfg->log_file[0])
		return 0;
	int fd = open(cfg->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_msg(LOG_ERROR, "cannot open log_file %s: %s; logging to stderr", cfg->log_file,
			strerror(errno));
		return -1;
	}
	log_fd = fd;
	return 0;
}

void log_default(void)
{
	log_close();
	log_min = LOG_INFO;
	log_text = 0;
}

void log_close(void)
{
	if (log_fd > 2)
		close(log_fd);
	log_fd = 2;
}

static void put_ts(struct buf *b)
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	char ts[40];
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(b, "%s.%03dZ", ts, (int)(tv.tv_usec / 1000));
}

void log_begin(struct log_event *ev, enum log_level level, const char *event)
{
	struct buf empty = BUF_INIT;
	ev->b = empty;
	ev->level = level;
	ev->active = level >= log_min;
	if (!ev->active)
		return;
	if (log_text) {
		put_ts(&ev->b);
		buf_printf(&ev->b, " %-5s %s", level_names[level], event);
		return;
	}
	buf_puts(&ev->b, "{\"ts\":\"");
	put_ts(&ev->b);
	buf_printf(&ev->b, "\",\"level\":\"%s\",\"event\":", level_names[level]);
	json_put_cstr(&ev->b, event);
}

void log_str(struct log_event *ev, const char *key, const char *val)
{
	if (!ev->active || !val || !val[0])
		return;
	if (log_text) {
		buf_printf(&ev->b, " %s=", key);
		if (strpbrk(val, " \"=\n"))
			json_put_cstr(&ev->b, val);
		else
			buf_puts(&ev->b, val);
		return;
	}
	buf_putc(&ev->b, ',');
	json_put_cstr(&ev->b, key);
	buf_putc(&ev->b, ':');
	json_put_cstr(&ev->b, val);
}

void log_int(struct log_event *ev, const char *key, long long val)
{
	if (!ev->active)
		return;
	if (log_text)
		buf_printf(&ev->b, " %s=%lld", key, val);
	else
		buf_printf(&ev->b, ",\"%s\":%lld", key, val);
}

void log_end(struct log_event *ev)
{
	if (ev->active) {
		if (!log_text)
			buf_putc(&ev->b, '}');
		buf_putc(&ev->b, '\n');
		const char *p = ev->b.data;
		size_t left = ev->b.len;
		while (left > 0) {
			ssize_t w = write(log_fd, p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			p += w;
			left -= (size_t)w;
		}
	}
	buf_free(&ev->b);
	ev->active = 0;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	struct log_event ev;
	log_begin(&ev, level, "message");
	if (ev.active) {
		char msg[2048];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		log_str(&ev, "msg", msg);
	}
	log_end(&ev);
}
