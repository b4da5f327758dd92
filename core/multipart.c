/* multipart/form-data, parsed as it arrives.  The scanner looks for the delimiter
 * "\r\n--boundary" one byte of state at a time, so a boundary or header split across
 * feeds is found the same as a whole one; every limit is checked before bytes are
 * stored.  Line endings must be CRLF (see docs/multipart.md for why). */
#include "multipart.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

enum mp_state {
	MP_PREAMBLE, /* before the first boundary: discarded */
	MP_AFTER,    /* just after "--boundary": "--", padding or CRLF follows */
	MP_PAD,	     /* transport padding (spaces, tabs) after a boundary */
	MP_DASH,     /* "--boundary-": one more '-' closes the body */
	MP_LF,	     /* "--boundary\r": '\n' starts a part */
	MP_HEADERS,  /* a part's header block, up to the empty line */
	MP_BODY,     /* a part's data, up to the next delimiter */
	MP_DONE	     /* after "--boundary--": the epilogue, discarded */
};

struct multipart {
	char delim[4 + 70 + 1]; /* "\r\n--" boundary */
	size_t dlen;
	struct multipart_limits lim;
	enum mp_state state;
	size_t match;  /* delim[0..match) seen last */
	size_t vmatch; /* how much of that was implied, not data (see scan) */
	size_t total;  /* bytes fed */
	size_t pad;    /* padding bytes after the current boundary */
	struct buf hdr;
	struct multipart_part *parts;
	size_t nparts, cap;
	int files;
	enum img_err failed; /* sticky: every call after a failure repeats it */
	struct img_error err;
};

#define MIB ((size_t)1024 * 1024)

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive: s[0..n) equals the lowercase word w (NUL-terminated). */
static int word_eq(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n && w[i]; i++)
		if (lower(s[i]) != w[i])
			return 0;
	return i == n && !w[i];
}

/* RFC 2046 bchars: 1..70 of them, not ending in a space.  No CR or LF can pass,
 * which scan() relies on. */
static int boundary_ok(const char *b, size_t n)
{
	if (n < 1 || n > 70 || b[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (c == '\0' || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
				   (c >= 'A' && c <= 'Z') || strchr("'()+_,-./:=? ", c)))
			return 0;
	}
	return 1;
}

static const char *skip_ows(const char *s)
{
	while (is_ows(*s))
		s++;
	return s;
}

int multipart_boundary(const char *content_type, char *out, size_t len)
{
	static const char type[] = "multipart/form-data";
	const char *s;
	int found = 0;

	if (!content_type || !out || !len)
		return -1;
	s = skip_ows(content_type);
	if (!word_eq(s, strnlen(s, sizeof type - 1), type))
		return -1;
	s = skip_ows(s + sizeof type - 1);
	while (*s) {
		char val[72];
		size_t vlen = 0, nlen;
		int toolong = 0;
		const char *name;

		if (*s != ';')
			return -1;
		s = skip_ows(s + 1);
		name = s;
		while (*s && *s != '=' && *s != ';' && !is_ows(*s))
			s++;
		nlen = (size_t)(s - name);
		s = skip_ows(s);
		if (*s != '=')
			continue; /* "; flag" or an empty parameter: nothing to read */
		s = skip_ows(s + 1);
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				if (vlen < sizeof val - 1)
					val[vlen++] = *s;
				else
					toolong = 1;
			}
			if (*s != '"')
				return -1;
			s++;
		} else {
			for (; *s && *s != ';' && !is_ows(*s); s++) {
				if (vlen < sizeof val - 1)
					val[vlen++] = *s;
				else
					toolong = 1;
			}
		}
		s = skip_ows(s);
		if (!word_eq(name, nlen, "boundary"))
			continue;
		/* Two boundaries would let two parsers disagree on the body. */
		if (found || toolong || !boundary_ok(val, vlen) || vlen >= len)
			return -1;
		memcpy(out, val, vlen);
		out[vlen] = '\0';
		found = 1;
	}
	return found ? 0 : -1;
}

struct multipart *multipart_new(const char *boundary, const struct multipart_limits *lim)
{
	static const struct multipart_limits def = {20 * MIB, 300 * MIB, 14, 64, 8192, 65536};
	struct multipart *m;
	size_t n;

	if (!boundary)
		return NULL;
	n = strnlen(boundary, 71);
	if (!boundary_ok(boundary, n))
		return NULL;
	m = xcalloc(1, sizeof *m);
	memcpy(m->delim, "\r\n--", 4);
	memcpy(m->delim + 4, boundary, n);
	m->dlen = 4 + n;
	m->lim = lim ? *lim : def;
	if (!m->lim.max_part_bytes)
		m->lim.max_part_bytes = def.max_part_bytes;
	if (!m->lim.max_total_bytes)
		m->lim.max_total_bytes = def.max_total_bytes;
	if (m->lim.max_files <= 0)
		m->lim.max_files = def.max_files;
	if (m->lim.max_parts <= 0)
		m->lim.max_parts = def.max_parts;
	if (!m->lim.max_header_bytes)
		m->lim.max_header_bytes = def.max_header_bytes;
	if (!m->lim.max_field_bytes)
		m->lim.max_field_bytes = def.max_field_bytes;
	/* The body's first line may be "--boundary" with no CRLF before it. */
	m->state = MP_PREAMBLE;
	m->match = m->vmatch = 2;
	return m;
}

void multipart_free(struct multipart *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nparts; i++)
		buf_free(&m->parts[i].data);
	free(m->parts);
	buf_free(&m->hdr);
	free(m);
}

size_t multipart_count(const struct multipart *m)
{
	return m ? m->nparts : 0;
}

const struct multipart_part *multipart_part(const struct multipart *m, size_t i)
{
	return m && i < m->nparts ? &m->parts[i] : NULL;
}

const struct multipart_part *multipart_field(const struct multipart *m, const char *name)
{
	for (size_t i = 0; m && name && i < m->nparts; i++)
		if (strcmp(m->parts[i].name, name) == 0)
			return &m->parts[i];
	return NULL;
}

void multipart_take(struct multipart *m, size_t i, struct buf *out)
{
	buf_free(out);
	if (!m || i >= m->nparts)
		return;
	*out = m->parts[i].data;
	m->parts[i].data = (struct buf)BUF_INIT;
	buf_append(&m->parts[i].data, "", 0); /* data.data is never NULL */
}

int multipart_is_image_name(const char *name)
{
	const char *s;
	int bracket, v = 0;

	if (!name || strncmp(name, "image", 5) != 0)
		return 0;
	s = name + 5;
	if (!*s || strcmp(s, "[]") == 0)
		return 1;
	bracket = *s == '[';
	s += bracket;
	if (*s < '0' || *s > '9' || (*s == '0' && s[1] >= '0' && s[1] <= '9'))
		return 0;
	for (int d = 0; *s >= '0' && *s <= '9'; s++, d++) {
		if (d == 2)
			return 0;
		v = v * 10 + (*s - '0');
	}
	if (bracket)
		return *s == ']' && !s[1] && v <= 13;
	return !*s && v >= 1 && v <= 14;
}

/* Copies src[0..n) into dst[cap], cutting before a UTF-8 sequence that does not fit
 * so a long name never ends in half a character. */
static void copy_cut(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void trim_end(char *s)
{
	size_t n = strlen(s);

	while (n && is_ows(s[n - 1]))
		s[--n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 5987 ext-value (charset'lang'%xx...) decoded in place; bytes that would be
 * control characters become '_'.  Returns the decoded length. */
static size_t ext_value(char *v, size_t n)
{
	char *q = memchr(v, '\'', n);
	char *r = q ? memchr(q + 1, '\'', n - (size_t)(q + 1 - v)) : NULL;
	size_t i = r ? (size_t)(r + 1 - v) : 0, o = 0;

	for (; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '%' && i + 2 < n && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
			c = (unsigned char)(hexval(v[i + 1]) << 4 | hexval(v[i + 2]));
			i += 2;
		}
		v[o++] = c < 0x20 || c == 0x7f ? '_' : (char)c;
	}
	return o;
}

/* One parameter value at *sp (quoted-string or token), decoded in place; *sp moves
 * past it.  In a quoted string \" and \\ are escapes and any other backslash is kept,
 * so "C:\dir\a.png" from old browsers survives.  -1 on an unterminated quote. */
static int param_value(char **sp, char **val, size_t *vlen)
{
	char *s = *sp, *o;

	if (*s != '"') {
		*val = s;
		while (*s && *s != ';')
			s++;
		*sp = s;
		while (s > *val && is_ows(s[-1]))
			s--;
		*vlen = (size_t)(s - *val);
		return 0;
	}
	*val = o = ++s;
	for (; *s && *s != '"'; s++) {
		if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
			s++;
		*o++ = *s;
	}
	if (*s != '"')
		return -1;
	*vlen = (size_t)(o - *val);
	*sp = s + 1;
	return 0;
}

/* Content-Disposition: form-data; name="..."; filename="..." into p. */
static enum img_err disposition(char *v, struct multipart_part *p, int *has_name, int *has_file,
				size_t idx, struct img_error *e)
{
	char *s = v;
	int has_star = 0;

	while (*s && *s != ';' && !is_ows(*s))
		s++;
	if (!word_eq(v, (size_t)(s - v), "form-data"))
		return err_set(e, IMG_INVALID_REQUEST, NULL,
			       "multipart part %zu: Content-Disposition must be form-data",
			       idx + 1);
	for (;;) {
		char *name, *val;
		size_t nlen, vlen;

		s = (char *)skip_ows(s);
		if (!*s)
			break;
		if (*s != ';')
			return err_set(e, IMG_INVALID_REQUEST, NULL,
				       "multipart part %zu: malformed Content-Disposition",
				       idx + 1);
		s = (char *)skip_ows(s + 1);
		name = s;
		while (*s && *s != '=' && *s != ';' && !is_ows(*s))
			s++;
		nlen = (size_t)(s - name);
		s = (char *)skip_ows(s);
		if (*s != '=')
			continue;
		s = (char *)skip_ows(s + 1);
		if (param_value(&s, &val, &vlen) != 0)
			return err_set(e, IMG_INVALID_REQUEST, NULL,
				       "multipart part %zu: unterminated quoted string in "
				       "Content-Disposition",
				       idx + 1);
		if (word_eq(name, nlen, "name")) {
			if (*has_name)
				return err_set(
					e, IMG_INVALID_REQUEST, NULL,
					"multipart part %zu: two names in Content-Disposition",
					idx + 1);
			if (vlen == 0 || vlen >= sizeof p->name)
				return err_set(e, IMG_INVALID_REQUEST, NULL,
					       "multipart part %zu: the part name must be 1 to %zu "
					       "bytes",
					       idx + 1, sizeof p->name - 1);
			memcpy(p->name, val, vlen);
			p->name[vlen] = '\0';
			*has_name = 1;
		} else if (word_eq(name, nlen, "filename")) {
			if (*has_file)
				return err_set(e, IMG_INVALID_REQUEST, NULL,
					       "multipart part %zu: two filenames in "
					       "Content-Disposition",
					       idx + 1);
			copy_cut(p->filename, sizeof p->filename, val, vlen);
			*has_file = 1;
		} else if (word_eq(name, nlen, "filename*") && !has_star) {
			/* RFC 7578 says not to send it; used only when filename is absent. */
			has_star = 1;
			if (!*has_file) {
				vlen = ext_value(val, vlen);
				copy_cut(p->filename, sizeof p->filename, val, vlen);
			}
		}
	}
	if (has_star && !*has_file)
		*has_file = 1;
	if (!*has_name)
		return err_set(e, IMG_INVALID_REQUEST, NULL,
			       "multipart part %zu: Content-Disposition has no name", idx + 1);
	return IMG_OK;
}

/* Parses the finished header block in m->hdr (ends in "\r\n\r\n", or is "\r\n") into
 * p.  The block is rewritten in place: folds become spaces, line ends NULs. */
static enum img_err parse_headers(struct multipart *m, struct multipart_part *p,
				  struct img_error *e)
{
	char *h = m->hdr.data;
	size_t n = m->hdr.len, idx = m->nparts;
	int has_cd = 0, has_ct = 0, has_name = 0, has_file = 0;
	enum img_err rc;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == '\r' && i + 1 < n && h[i + 1] == '\n') {
			if (i + 2 < n && is_ows(h[i + 2]))
				h[i] = h[i + 1] = ' '; /* obsolete line folding */
			else
				h[i] = h[i + 1] = '\0';
			i++;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return err_set(e, IMG_INVALID_REQUEST, NULL,
				       "multipart part %zu: control character in the part headers",
				       idx + 1);
		}
	}
	for (size_t i = 0; i < n; i += strlen(h + i) + 1) {
		char *line = h + i, *colon, *v, *end;
		size_t nlen;

		if (!*line)
			continue;
		colon = strchr(line, ':');
		if (!colon)
			return err_set(e, IMG_INVALID_REQUEST, NULL,
				       "multipart part %zu: header line without a colon", idx + 1);
		line = (char *)skip_ows(line);
		for (nlen = (size_t)(colon - line); nlen && is_ows(line[nlen - 1]); nlen--)
			;
		v = (char *)skip_ows(colon + 1);
		end = v + strlen(v);
		while (end > v && is_ows(end[-1]))
			*--end = '\0';
		if (word_eq(line, nlen, "content-disposition")) {
			if (has_cd++)
				return err_set(
					e, IMG_INVALID_REQUEST, NULL,
					"multipart part %zu: two Content-Disposition headers",
					idx + 1);
			rc = disposition(v, p, &has_name, &has_file, idx, e);
			if (rc != IMG_OK)
				return rc;
		} else if (word_eq(line, nlen, "content-type")) {
			if (has_ct++)
				return err_set(e, IMG_INVALID_REQUEST, NULL,
					       "multipart part %zu: two Content-Type headers",
					       idx + 1);
			copy_cut(p->content_type, sizeof p->content_type, v, (size_t)(end - v));
			/* A value cut after a space must not keep it: it was trimmed above. */
			trim_end(p->content_type);
		}
	}
	if (!has_cd)
		return err_set(e, IMG_INVALID_REQUEST, NULL,
			       "multipart part %zu has no Content-Disposition header", idx + 1);
	p->is_file = has_file || (p->content_type[0] && !word_eq(p->content_type, 5, "text/"));
	return IMG_OK;
}

/* The header block is complete: check the part limits, then add the part. */
static enum img_err start_part(struct multipart *m, struct img_error *e)
{
	struct multipart_part p;
	enum img_err rc;

	if (m->nparts >= (size_t)m->lim.max_parts)
		return err_set(e, IMG_INVALID_REQUEST, NULL,
			       "too many multipart parts: at most %d are accepted",
			       m->lim.max_parts);
	memset(&p, 0, sizeof p);
	rc = parse_headers(m, &p, e);
	buf_reset(&m->hdr);
	if (rc != IMG_OK)
		return rc;
	if (p.is_file && m->files++ >= m->lim.max_files)
		return err_set(e, IMG_INVALID_REQUEST, p.name,
			       "too many files: at most %d file parts are accepted",
			       m->lim.max_files);
	if (m->nparts == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->parts = xrealloc(m->parts, m->cap * sizeof *m->parts);
	}
	buf_append(&p.data, "", 0); /* data.data is never NULL */
	m->parts[m->nparts++] = p;
	return IMG_OK;
}

/* Bytes that are known not to be part of a delimiter: part data, or discarded. */
static enum img_err emit(struct multipart *m, const char *p, size_t n, struct img_error *e)
{
	struct multipart_part *cur;
	size_t limit;

	if (m->state != MP_BODY || !n)
		return IMG_OK;
	cur = &m->parts[m->nparts - 1];
	limit = cur->is_file ? m->lim.max_part_bytes : m->lim.max_field_bytes;
	if (n > limit - cur->data.len)
		return err_set(e, IMG_PAYLOAD_TOO_LARGE, cur->name,
			       "the %s '%s' is larger than the limit of %zu bytes",
			       cur->is_file ? "file" : "field", cur->name, limit);
	buf_append(&cur->data, p, n);
	return IMG_OK;
}

/* Preamble or part data up to the delimiter.  A delimiter starts with the only CR it
 * holds (boundary_ok), so on a mismatch the bytes matched so far are plain data and
 * the scan resumes at the byte that broke the match.  The first vmatch bytes of a
 * match were implied: the CRLF before a first boundary at the very start of the body,
 * or the CRLF that ended a header block (RFC 2046 lets a part with no data end right
 * there); they are never data.  Returns the bytes consumed. */
static size_t scan(struct multipart *m, const char *p, size_t n, enum img_err *rc,
		   struct img_error *e)
{
	size_t i = 0;

	while (i < n) {
		if (m->match == 0) {
			const char *cr = memchr(p + i, '\r', n - i);
			size_t run = cr ? (size_t)(cr - (p + i)) : n - i;
			if ((*rc = emit(m, p + i, run, e)) != IMG_OK)
				return i;
			i += run;
			if (!cr)
				break;
			m->match = 1;
			i++;
		} else if (p[i] == m->delim[m->match]) {
			i++;
			if (++m->match == m->dlen) {
				m->match = m->vmatch = 0;
				m->pad = 0;
				m->state = MP_AFTER;
				break;
			}
		} else {
			size_t from = m->vmatch, to = m->match;
			m->match = m->vmatch = 0;
			if ((*rc = emit(m, m->delim + from, to - from, e)) != IMG_OK)
				return i;
		}
	}
	return i;
}

static enum img_err bad_line(struct img_error *e, char c)
{
	if (c == '\n')
		return err_set(e, IMG_INVALID_REQUEST, NULL,
			       "multipart boundary line ends in a bare LF; lines must end in CRLF");
	return err_set(e, IMG_INVALID_REQUEST, NULL,
		       "malformed multipart boundary line: unexpected characters after the "
		       "boundary");
}

/* One part's header bytes, up to and including the next LF. */
static size_t headers(struct multipart *m, const char *p, size_t n, enum img_err *rc,
		      struct img_error *e)
{
	const char *lf = memchr(p, '\n', n);
	size_t run = lf ? (size_t)(lf - p) + 1 : n;
	const char *h;

	if (run > m->lim.max_header_bytes - m->hdr.len) {
		*rc = err_set(e, IMG_INVALID_REQUEST, NULL,
			      "multipart part %zu: the part headers are longer than %zu bytes",
			      m->nparts + 1, m->lim.max_header_bytes);
		return 0;
	}
	buf_append(&m->hdr, p, run);
	if (!lf)
		return run;
	h = m->hdr.data;
	if (m->hdr.len < 2 || h[m->hdr.len - 2] != '\r') {
		*rc = err_set(e, IMG_INVALID_REQUEST, NULL,
			      "multipart part %zu: header line ends in a bare LF; lines must end "
			      "in CRLF",
			      m->nparts + 1);
		return run;
	}
	if (m->hdr.len == 2 ||
	    (m->hdr.len >= 4 && memcmp(h + m->hdr.len - 4, "\r\n\r\n", 4) == 0)) {
		if ((*rc = start_part(m, e)) != IMG_OK)
			return run;
		m->state = MP_BODY;
		m->match = m->vmatch = 2;
	}
	return run;
}

static enum img_err run(struct multipart *m, const char *p, size_t n, struct img_error *e)
{
	enum img_err rc = IMG_OK;
	size_t i = 0;

	while (i < n && rc == IMG_OK) {
		char c = p[i];

		switch (m->state) {
		case MP_PREAMBLE:
		case MP_BODY: i += scan(m, p + i, n - i, &rc, e); break;
		case MP_HEADERS: i += headers(m, p + i, n - i, &rc, e); break;
		case MP_DONE: return IMG_OK;
		case MP_AFTER:
		case MP_PAD:
			i++;
			if (c == '-' && m->state == MP_AFTER)
				m->state = MP_DASH;
			else if (c == '\r')
				m->state = MP_LF;
			else if (!is_ows(c))
				rc = bad_line(e, c);
			else if (++m->pad > m->lim.max_header_bytes)
				rc = err_set(e, IMG_INVALID_REQUEST, NULL,
					     "too much whitespace after a multipart boundary");
			else
				m->state = MP_PAD;
			break;
		case MP_DASH:
			i++;
			if (c == '-')
				m->state = MP_DONE;
			else
				rc = bad_line(e, c);
			break;
		case MP_LF:
			i++;
			if (c == '\n')
				m->state = MP_HEADERS;
			else
				rc = bad_line(e, c);
			break;
		}
	}
	return rc;
}

static enum img_err fail(struct multipart *m, enum img_err rc, struct img_error *e)
{
	m->failed = rc;
	m->err = *e;
	return rc;
}

enum img_err multipart_feed(struct multipart *m, const char *data, size_t n, struct img_error *e)
{
	struct img_error scratch;
	size_t room, take;
	enum img_err rc;

	if (!e)
		e = &scratch;
	if (m->failed) {
		*e = m->err;
		return m->failed;
	}
	/* Bytes up to the limit are parsed first, so an earlier error wins however the
	 * body is split into feeds. */
	room = m->lim.max_total_bytes - m->total;
	take = n < room ? n : room;
	rc = take ? run(m, data, take, e) : IMG_OK;
	m->total += take;
	if (rc == IMG_OK && take < n)
		rc = err_set(e, IMG_PAYLOAD_TOO_LARGE, NULL,
			     "the multipart body is larger than the limit of %zu bytes",
			     m->lim.max_total_bytes);
	return rc == IMG_OK ? IMG_OK : fail(m, rc, e);
}

enum img_err multipart_finish(struct multipart *m, struct img_error *e)
{
	struct img_error scratch;
	const char *b = m->delim + 4;
	int bl = (int)m->dlen - 4;

	if (!e)
		e = &scratch;
	if (m->failed) {
		*e = m->err;
		return m->failed;
	}
	switch (m->state) {
	case MP_DONE: return IMG_OK;
	case MP_PREAMBLE:
		err_set(e, IMG_INVALID_REQUEST, NULL,
			"malformed multipart body: no boundary line --%.*s", bl, b);
		break;
	case MP_HEADERS:
		err_set(e, IMG_INVALID_REQUEST, NULL,
			"malformed multipart body: it ends inside the headers of part %zu",
			m->nparts + 1);
		break;
	case MP_BODY:
		err_set(e, IMG_INVALID_REQUEST, NULL,
			"malformed multipart body: it ends before the closing boundary --%.*s--",
			bl, b);
		break;
	default:
		err_set(e, IMG_INVALID_REQUEST, NULL,
			"malformed multipart body: it ends inside a boundary line");
		break;
	}
	return fail(m, e->code, e);
}
