/* GET/HEAD /v1/files/{sha256}.{png|jpg|webp}?exp=&sig= (SPEC 2.6): a cached
 * image behind a signed link.  The name is checked character by character
 * before anything touches the filesystem; the web server sends the file
 * itself when sendfile_header says it can, else the bytes go in the reply. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "log.h"
#include "route.h"
#include "urlsign.h"

/* The name after /v1/files/ (or /files/): exactly 64 lowercase hex digits,
 * '.', and png, jpg or webp.  Anything else (other case, other length,
 * slashes, dots, percent signs) is refused.  0 or -1. */
static int parse_name(const char *path, char hex[65], char ext[8])
{
	const char *name;
	if (strncmp(path, "/v1/files/", 10) == 0)
		name = path + 10;
	else if (strncmp(path, "/files/", 7) == 0)
		name = path + 7;
	else
		return -1;
	for (int i = 0; i < 64; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return -1;
	if (name[64] != '.')
		return -1;
	const char *e = name + 65;
	if (strcmp(e, "png") != 0 && strcmp(e, "jpg") != 0 && strcmp(e, "webp") != 0)
		return -1;
	memcpy(hex, name, 64);
	hex[64] = '\0';
	snprintf(ext, 8, "%s", e);
	return 0;
}

/* If-None-Match names etag (weak or strong) or is "*". */
static int etag_matches(const char *inm, const char *etag)
{
	size_t el = strlen(etag);
	const char *p = inm;
	while (*p) {
		p += strspn(p, " \t,");
		size_t n = strcspn(p, ",");
		const char *t = p;
		p += n;
		while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			n--;
		if (n == 1 && t[0] == '*')
			return 1;
		if (n >= 2 && t[0] == 'W' && t[1] == '/') {
			t += 2;
			n -= 2;
		}
		if (n == el && memcmp(t, etag, n) == 0)
			return 1;
	}
	return 0;
}

static enum img_err forbidden(struct ctx *c, const char *message)
{
	err_set(&c->err, IMG_FORBIDDEN, NULL, "%s", message);
	snprintf(c->err.remedy, sizeof c->err.remedy,
		 "Request the image again to get a fresh link.");
	return IMG_FORBIDDEN;
}

static enum img_err gone(struct ctx *c)
{
	err_set(&c->err, IMG_NOT_FOUND, NULL, "The image is no longer in the cache.");
	snprintf(c->err.remedy, sizeof c->err.remedy,
		 "Generate the image again; cached images expire after cache_ttl_seconds.");
	return IMG_NOT_FOUND;
}

/* Reads the whole file into the reply body. */
static enum img_err read_into(struct ctx *c, const char *file)
{
	struct buf *b = &c->rp->body;
	struct stat st;
	enum img_err rc = IMG_OK;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gone(c);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = gone(c);
		goto out;
	}
	buf_grow(b, (size_t)st.st_size);
	for (;;) {
		if (b->cap - b->len < 2)
			buf_grow(b, 65536);
		ssize_t r = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_msg(LOG_ERROR, "files: reading %s: %s", file, strerror(errno));
			rc = err_set(&c->err, IMG_INTERNAL, NULL, "The image could not be read.");
			goto out;
		}
		if (r == 0)
			break;
		b->len += (size_t)r;
		b->data[b->len] = '\0';
	}
out:
	close(fd);
	return rc;
}

enum img_err files_get(struct ctx *c)
{
	const struct config *cfg = &c->app->cfg;
	struct reply *rp = c->rp;
	const char *sf = cfg->sendfile_header;
	char hex[65], ext[8], canon[96], file[PATH_MAX];
	long remaining = 0;
	struct stat st;

	/* Before anything else: a refused name never reaches the filesystem. */
	if (parse_name(c->rq->path, hex, ext) != 0)
		return err_set(&c->err, IMG_NOT_FOUND, NULL, "No such file.");
	/* Signed over the canonical route path, however the server mounts us. */
	snprintf(canon, sizeof canon, "/v1/files/%s.%s", hex, ext);
	int v = urlsign_check(c->app->url_secret, canon, c->rq->query, (long)time(NULL),
			      &remaining);
	if (v == -2)
		return forbidden(c, "The link has expired; ask for a new one.");
	if (v != 0)
		return forbidden(c, "The link's signature is not valid.");
	if (cache_blob_path(cfg, hex, ext, file, sizeof file) != 0 || stat(file, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		return gone(c);

	const char *mime = cache_ext_mime(ext);
	rp->content_type = mime ? mime : "application/octet-stream";
	reply_header(rp, "ETag", "\"%s\"", hex);
	reply_header(rp, "Cache-Control", "private, max-age=%ld", remaining);
	char etag[68];
	snprintf(etag, sizeof etag, "\"%s\"", hex);
	if (etag_matches(c->rq->if_none_match, etag)) {
		rp->status = 304;
		rp->no_length = 1; /* 304 carries no body; 0 would not be the image's length */
		return IMG_OK;
	}

	/* The web server sends the file and sets its length.  reply_header
	 * refuses values over 1023 bytes, so longer paths are streamed. */
	if (strcmp(sf, "X-Sendfile") == 0 || strcmp(sf, "X-LIGHTTPD-send-file") == 0) {
		char abs[PATH_MAX + 1];
		int n = -1;
		if (file[0] == '/') {
			n = snprintf(abs, sizeof abs, "%s", file);
		} else {
			char cwd[PATH_MAX];
			if (getcwd(cwd, sizeof cwd))
				n = snprintf(abs, sizeof abs, "%s/%s", cwd, file);
		}
		if (n > 0 && n < 1000) {
			reply_header(rp, sf, "%s", abs);
			rp->no_length = 1;
			return IMG_OK;
		}
	} else if (strcmp(sf, "X-Accel-Redirect") == 0 && cfg->sendfile_prefix[0]) {
		/* The internal location maps to cache_dir: send the path below it. */
		const char *pre = cfg->sendfile_prefix;
		size_t cl = strlen(cfg->cache_dir), pl = strlen(pre);
		while (cl > 1 && cfg->cache_dir[cl - 1] == '/')
			cl--;
		if (strncmp(file, cfg->cache_dir, cl) == 0 && file[cl] == '/' &&
		    pl + strlen(file + cl) < 1000) {
			const char *rel = file + cl + strspn(file + cl, "/");
			reply_header(rp, sf, "%s%s%s", pre, pre[pl - 1] == '/' ? "" : "/", rel);
			rp->no_length = 1;
			return IMG_OK;
		}
	}
	if (strcmp(sf, "none") != 0)
		log_msg(LOG_WARN, "files: %s not usable for %s (see sendfile_prefix); streaming",
			sf, file);
	return read_into(c, file);
}
