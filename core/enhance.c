/* Prompt enhancement: one generateContent call to a Gemini text model with a
 * key from the pool (a Gemini API key or a Vertex account, in the order of
 * gemini_providers), read defensively, or a deterministic offline rewrite
 * when no key is configured or the call fails in any way. */
#include "enhance.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "config.h"
#include "db.h"
#include "filter.h"
#include "gemini.h"
#include "genreq.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "upstream.h"
#include "vertex.h"
#include "xalloc.h"

/* An optional improvement must not hold a request for minutes. */
#define ENHANCE_TIMEOUT_CAP_S 30
/* A text answer is a few hundred bytes; anything near this is not one. */
#define ENHANCE_MAX_RESPONSE (1L << 20)
/* Vertex accounts that cannot get a token passed over before giving up. */
#define ENHANCE_MAX_SKIPS 2
/* Accounts tried after one the pool cooled or disabled (429, a rejected key). */
#define ENHANCE_MAX_ROTATIONS 2

/* What the text model is asked to do (sent as systemInstruction). */
static const char system_instruction[] =
	"You improve prompts for an image generation model. Rewrite the user's prompt as one "
	"vivid, concrete description of the picture to make: the subject and what it is doing, "
	"the setting, the composition and camera angle, the lighting, the colours and mood, and "
	"the style or medium (for example a photograph with its lens, an oil painting, a 3D "
	"render). Keep everything the user asked for and do not change what the picture is "
	"about. Write in the same language as the user's prompt. Reply with the rewritten "
	"prompt only: no introduction, no quotation marks, no lists, no explanations. Use at "
	"most 120 words.";

/* The text model from the configuration (enhance_model), else the default. */
static const char *configured_model(const struct config *cfg)
{
	return cfg->enhance_model && cfg->enhance_model[0] ? cfg->enhance_model
							   : ENHANCE_MODEL_DEFAULT;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- the request body ------------------------------------------------------ */

enum img_err enhance_parse_json(const struct config *cfg, const char *body, size_t len,
				struct enhance_req *r, struct img_error *e)
{
	memset(r, 0, sizeof *r);
	err_clear(e);
	struct json_error je;
	struct json *root = json_parse(body, len, &je);
	if (!root)
		return err_set(e, IMG_INVALID_REQUEST, NULL,
			       "The body is not valid JSON: %s at byte %zu.", je.msg, je.offset);
	if (root->type != JSON_OBJECT) {
		err_set(e, IMG_INVALID_REQUEST, NULL, "The body must be a JSON object.");
		goto out;
	}
	const struct json *v = json_get(root, "prompt");
	if (!v || v->type == JSON_NULL) {
		err_set(e, IMG_INVALID_PROMPT, "prompt", "'prompt' is required.");
		goto out;
	}
	if (v->type != JSON_STRING) {
		err_set(e, IMG_INVALID_PROMPT, "prompt", "'prompt' must be a string.");
		goto out;
	}
	if (strlen(v->str) != v->str_len) {
		err_set(e, IMG_INVALID_PROMPT, "prompt",
			"'prompt' must not contain NUL characters.");
		goto out;
	}
	int blank = 1;
	for (size_t i = 0; i < v->str_len && blank; i++)
		blank = isspace((unsigned char)v->str[i]);
	if (blank) {
		err_set(e, IMG_INVALID_PROMPT, "prompt", "'prompt' must not be empty.");
		goto out;
	}
	size_t chars = genreq_utf8_chars(v->str, v->str_len);
	if (chars > (size_t)cfg->max_prompt_chars) {
		err_set(e, IMG_INVALID_PROMPT, "prompt",
			"'prompt' has %zu characters; the limit is %d.", chars,
			cfg->max_prompt_chars);
		snprintf(e->remedy, sizeof e->remedy,
			 "Shorten the prompt to at most %d characters.", cfg->max_prompt_chars);
		goto out;
	}
	r->prompt = xstrdup(v->str);
	v = json_get(root, "model");
	if (v && v->type != JSON_NULL) {
		if (v->type != JSON_STRING || strlen(v->str) != v->str_len)
			err_set(e, IMG_INVALID_REQUEST, "model", "'model' must be a string.");
		else if (!v->str[0])
			err_set(e, IMG_INVALID_REQUEST, "model", "'model' must not be empty.");
		else
			r->model = xstrdup(v->str);
	}
out:
	json_free(root);
	return e->code;
}

void enhance_req_free(struct enhance_req *r)
{
	free(r->prompt);
	free(r->model);
	memset(r, 0, sizeof *r);
}

/* ---- text helpers ------------------------------------------------------------ */

/* ASCII whitespace and control bytes: what the rewrite folds into one space. */
static int is_blank(unsigned char ch)
{
	return ch <= 0x20 || ch == 0x7f;
}

/* Appends s with leading and trailing blanks removed and every run of blanks
 * inside turned into one space.  Bytes of 0x80 and up pass untouched, so
 * valid UTF-8 stays valid. */
static void collapse(const char *s, size_t n, struct buf *out)
{
	int pending = 0;
	size_t start = out->len;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (is_blank(ch)) {
			pending = out->len > start;
			continue;
		}
		if (pending)
			buf_putc(out, ' ');
		pending = 0;
		buf_putc(out, (char)ch);
	}
	buf_cstr(out);
}

/* Bytes of the longest prefix of s[0..n) holding at most max_chars code
 * points, never ending inside a UTF-8 sequence. */
static size_t utf8_prefix(const char *s, size_t n, size_t max_chars)
{
	size_t chars = 0;
	for (size_t i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (chars == max_chars)
				return i;
			chars++;
		}
	}
	return n;
}

/* Cuts b's text to at most max_chars code points; a cut inside a word goes
 * back to the space before it when there is one, and trailing blanks go. */
static void clamp(struct buf *b, size_t max_chars)
{
	size_t keep = utf8_prefix(b->data ? b->data : "", b->len, max_chars);
	if (keep < b->len && b->data[keep] != ' ') {
		size_t sp = keep;
		while (sp > 0 && b->data[sp - 1] != ' ')
			sp--;
		if (sp > 0)
			keep = sp;
	}
	while (keep > 0 && b->data[keep - 1] == ' ')
		keep--;
	b->len = keep;
	if (b->data)
		b->data[keep] = '\0';
}

/* Word lists of the offline rewrite; a trailing '*' matches any word with
 * that beginning.  Words are ASCII letters and digits, lower-cased; a word
 * with other letters (é, ß, 光) matches nothing. */
static const char *const lighting_words[] = {
	"light*",   "lit",	 "backlit",    "sunlit",     "moonlit",	 "sunset*", "sunrise*",
	"sunlight", "moonlight", "dawn",       "dusk",	     "twilight", "night*",  "neon",
	"glow*",    "shadow*",	 "illuminat*", "candle*",    "lamp*",	 "golden",  "overcast",
	"lantern*", "bright*",	 "dark*",      "dim",	     "luminous", "radiant", "chiaroscuro",
	"noir",	    "sunny",	 "foggy",      "volumetric", NULL};
static const char *const composition_words[] = {
	"composition", "composed",   "close*",	   "macro",	  "wide*",	 "aerial",
	"overhead",    "panoram*",   "portrait",   "landscape",	  "shot",	 "angle",
	"view",	       "framing",    "framed",	   "centered",	  "centred",	 "symmetr*",
	"silhouette*", "foreground", "background", "perspective", "thirds",	 "fisheye",
	"telephoto",   "bokeh",	     "isometric",  "top",	  "full-length", NULL};
static const char *const style_words[] = {
	"photo*",     "realistic", "hyperrealistic", "painting",  "painted",	"oil",
	"watercolo*", "acrylic",   "gouache",	     "pastel*",	  "charcoal",	"pencil",
	"ink",	      "sketch*",   "drawing",	     "drawn",	  "illustrat*", "render*",
	"3d",	      "cgi",	   "anime",	     "manga",	  "cartoon*",	"comic*",
	"pixel",      "vector",	   "lowpoly",	     "digital",	  "art",	"artwork",
	"style",      "styled",	   "impressionis*",  "surreal*",  "cubis*",	"minimalis*",
	"cinematic",  "film",	   "35mm",	     "polaroid",  "analog",	"clay*",
	"origami",    "mosaic",	   "engraving",	     "woodcut",	  "linocut",	"lithograph*",
	"poster",     "mural",	   "fresco",	     "sculpture", "vaporwave",	"synthwave",
	"steampunk",  "cyberpunk", "dslr",	     "camera",	  "lens",	NULL};

static int word_in(const char *w, size_t n, const char *const *list)
{
	for (int i = 0; list[i]; i++) {
		size_t l = strlen(list[i]);
		if (list[i][l - 1] == '*') {
			if (n >= l - 1 && memcmp(w, list[i], l - 1) == 0)
				return 1;
		} else if (n == l && memcmp(w, list[i], n) == 0) {
			return 1;
		}
	}
	return 0;
}

/* 1 when text has a word from list (ASCII case folded). */
static int has_word(const char *text, const char *const *list)
{
	char w[32];
	const unsigned char *p = (const unsigned char *)text;
	while (*p) {
		if (!isalnum(*p) && *p < 0x80) {
			p++;
			continue;
		}
		size_t n = 0;
		int ascii = 1;
		while (*p && (isalnum(*p) || *p >= 0x80 || (*p == '-' && isalnum(p[1])))) {
			ascii &= *p < 0x80;
			if (n < sizeof w)
				w[n] = (char)tolower(*p);
			n++;
			p++;
		}
		if (ascii && n <= sizeof w && word_in(w, n, list))
			return 1;
		/* A hyphenated word also counts by its parts ("close-up"). */
		if (ascii && n <= sizeof w && memchr(w, '-', n)) {
			size_t s = 0;
			for (size_t i = 0; i <= n; i++) {
				if (i == n || w[i] == '-') {
					if (i > s && word_in(w + s, i - s, list))
						return 1;
					s = i + 1;
				}
			}
		}
	}
	return 0;
}

void enhance_offline(const char *prompt, size_t max_chars, struct buf *out)
{
	static const struct {
		const char *const *words;
		const char *clause;
	} rules[] = {
		{lighting_words, "soft natural lighting"},
		{composition_words, "balanced composition"},
		{style_words, "highly detailed digital illustration"},
	};
	struct buf b = BUF_INIT;
	collapse(prompt, strlen(prompt), &b);
	clamp(&b, max_chars);
	if (b.len && b.data[0] >= 'a' && b.data[0] <= 'z')
		b.data[0] = (char)(b.data[0] - 'a' + 'A');
	/* Which clauses are missing is judged on the user's words alone. */
	int want[3], any = 0;
	for (int i = 0; i < 3; i++)
		any |= want[i] = b.len && !has_word(buf_cstr(&b), rules[i].words);
	if (any) {
		/* Trailing punctuation would sit oddly before the clauses. */
		while (b.len && strchr(".,;: ", b.data[b.len - 1]))
			b.len--;
		if (b.data)
			b.data[b.len] = '\0';
	}
	size_t chars = genreq_utf8_chars(buf_cstr(&b), b.len);
	for (int i = 0; i < 3 && b.len; i++) {
		size_t add = 2 + strlen(rules[i].clause);
		if (!want[i] || chars + add > max_chars)
			continue;
		buf_printf(&b, ", %s", rules[i].clause);
		chars += add;
	}
	buf_append(out, buf_cstr(&b), b.len);
	buf_cstr(out);
	buf_free(&b);
}

/* ---- the Gemini call --------------------------------------------------------- */

/* The model to ask: the request's hint when it names a Gemini text model,
 * else the configured one.  Image and local model ids (a page may send the
 * model it will generate with) are not text models and are passed over. */
static const char *pick_model(const struct config *cfg, const char *hint)
{
	if (!hint || strncmp(hint, "gemini-", 7) != 0 || strstr(hint, "image") ||
	    strlen(hint) >= 64)
		return configured_model(cfg);
	for (const char *p = hint; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		      *p == '.'))
			return configured_model(cfg);
	return hint;
}

static void build_request(struct buf *out, const char *prompt)
{
	buf_puts(out, "{\"systemInstruction\":{\"parts\":[{\"text\":");
	json_put_cstr(out, system_instruction);
	buf_puts(out, "}]},\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":");
	json_put_cstr(out, prompt);
	buf_puts(out, "}]}],\"generationConfig\":{\"responseModalities\":[\"TEXT\"],"
		      "\"temperature\":0.7,\"candidateCount\":1}}");
}

/* Tidies the model's text into out: blanks collapsed, one pair of enclosing
 * quotation marks removed (when no other such mark is inside), cut to
 * max_chars. */
static void tidy(const char *text, size_t max_chars, struct buf *out)
{
	static const char *const quotes[][2] = {
		{"\"", "\""}, {"\xe2\x80\x9c", "\xe2\x80\x9d"}, {"\xc2\xab", "\xc2\xbb"}};
	struct buf b = BUF_INIT;
	collapse(text, strlen(text), &b);
	for (size_t i = 0; i < sizeof quotes / sizeof quotes[0] && b.len; i++) {
		size_t ol = strlen(quotes[i][0]), cl = strlen(quotes[i][1]);
		if (b.len >= ol + cl && memcmp(b.data, quotes[i][0], ol) == 0 &&
		    memcmp(b.data + b.len - cl, quotes[i][1], cl) == 0 &&
		    !memmem(b.data + ol, b.len - ol - cl, quotes[i][0], ol) &&
		    !memmem(b.data + ol, b.len - ol - cl, quotes[i][1], cl)) {
			struct buf inner = BUF_INIT;
			collapse(b.data + ol, b.len - ol - cl, &inner);
			buf_free(&b);
			b = inner;
			break;
		}
	}
	clamp(&b, max_chars);
	buf_append(out, buf_cstr(&b), b.len);
	buf_cstr(out);
	buf_free(&b);
}

static int in_list(const char *s, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

enum img_err enhance_read_answer(const char *body, size_t len, size_t max_chars, struct buf *out,
				 char *finish, size_t finish_len, struct img_error *e)
{
	static const char *const accepted[] = {"", "STOP", "MAX_TOKENS", NULL};
	static const char *const blocked[] = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
					      NULL};
	static const char *const recited[] = {"RECITATION", NULL};
	enum img_err rc;
	finish[0] = '\0';
	struct json *root = json_parse(body, len, NULL);
	if (!root || root->type != JSON_OBJECT) {
		rc = err_set(e, IMG_UPSTREAM_ERROR, NULL, "The upstream answer was not JSON.");
		goto out;
	}
	const struct json *fb = json_get(root, "promptFeedback");
	const char *block = fb ? json_get_str(fb, "blockReason") : NULL;
	const struct json *cand = json_at(json_get(root, "candidates"), 0);
	if (block && !cand) {
		snprintf(finish, finish_len, "%s", block);
		rc = err_set(e, IMG_SAFETY_BLOCKED, NULL,
			     "The upstream blocked the prompt (%.40s).", block);
		goto out;
	}
	const char *reason = cand ? json_get_str(cand, "finishReason") : NULL;
	snprintf(finish, finish_len, "%s", reason ? reason : "");
	const char *text = NULL;
	const struct json *parts = json_get(json_get(cand, "content"), "parts");
	for (const struct json *p = parts && parts->type == JSON_ARRAY ? parts->child : NULL; p;
	     p = p->next) {
		const struct json *t = json_get(p, "text"), *th = json_get(p, "thought");
		if (th && th->type == JSON_BOOL && th->boolean)
			continue;
		if (t && t->type == JSON_STRING) {
			text = t->str; /* up to a \u0000, if the model sent one */
			break;
		}
	}
	if (in_list(finish, blocked)) {
		rc = err_set(e, IMG_SAFETY_BLOCKED, NULL, "The upstream blocked the answer (%s).",
			     finish);
		goto out;
	}
	if (in_list(finish, recited)) {
		rc = err_set(e, IMG_RECITATION_BLOCKED, NULL,
			     "The upstream blocked the answer as possible recitation.");
		goto out;
	}
	if (!in_list(finish, accepted)) {
		rc = err_set(e, IMG_UPSTREAM_ERROR, NULL, "The upstream stopped early (%s).",
			     finish);
		goto out;
	}
	size_t start = out->len;
	if (text)
		tidy(text, max_chars, out);
	if (out->len == start) {
		rc = err_set(e, IMG_UPSTREAM_ERROR, NULL, "The upstream answered without text.");
		goto out;
	}
	rc = IMG_OK;
out:
	json_free(root);
	return rc;
}

/* Turns the finished call into the text (in res->text) or an error (in
 * res->err), tells the pool how the key fared, and passes on the pool's
 * advice (POOL_DONE after an answer). */
static enum pool_step classify(const struct config *cfg, struct sqlite3 *db,
			       const struct pool_key *k, struct upstream_xfer *x,
			       struct enhance_result *res, char *finish, size_t finish_len)
{
	struct img_error *e = &res->err;
	res->upstream_status = (int)x->status;
	if (x->fail == UPSTREAM_OK && x->status == 200) {
		err_clear(e);
		e->upstream_status = 200;
		pool_ok(db, k);
		if (enhance_read_answer(x->resp.data, x->resp.len, (size_t)cfg->max_prompt_chars,
					&res->text, finish, finish_len, e) != IMG_OK)
			buf_reset(&res->text);
		snprintf(e->finish_reason, sizeof e->finish_reason, "%s", finish);
		return POOL_DONE;
	}
	return pool_judge(cfg, db, k, x, e);
}

static void log_call(const char *request_id, const char *model, const struct pool_key *k,
		     int retry_count, const struct upstream_xfer *x,
		     const struct enhance_result *res, const char *finish)
{
	struct log_event ev;
	log_begin(&ev, res->err.code == IMG_OK ? LOG_INFO : LOG_WARN, "upstream");
	log_str(&ev, "request_id", request_id);
	log_str(&ev, "provider", k->provider);
	log_str(&ev, "model", model);
	log_str(&ev, "account", k->label);
	log_int(&ev, "retry_count", retry_count);
	if (x->status)
		log_int(&ev, "upstream_status", x->status);
	log_int(&ev, "duration_ms", x->elapsed_ms);
	log_str(&ev, "finish_reason", finish);
	if (res->err.code != IMG_OK) {
		const struct err_info *ei = err_info(res->err.code);
		log_str(&ev, "error_code", ei->code);
		log_str(&ev, "error_type", ei->error_type);
		log_str(&ev, "category", ei->category);
		if (x->fail != UPSTREAM_OK)
			log_str(&ev, "detail", x->error);
	} else {
		log_int(&ev, "bytes", (long long)res->text.len);
	}
	log_end(&ev);
}

/* 1 when the pool holds an account of one of providers at all (enabled or
 * not): a pool whose accounts are all disabled is a failed upstream, not an
 * unconfigured one. */
static int pool_has_account(const struct config *cfg, struct sqlite3 *db,
			    const char *const *providers)
{
	if (!db)
		return cfg->gemini_configured;
	sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM accounts WHERE provider = :provider LIMIT 1");
	if (!st)
		return cfg->gemini_configured;
	int found = 0;
	for (int i = 0; providers[i] && !found; i++) {
		db_bind_text(st, ":provider", providers[i]);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
	}
	return found;
}

/* Sends the request to the text model with k (a Gemini API key, or a Vertex
 * account readied by vertex_ready_key, whose URL is already in url) and waits
 * for the answer in x. */
static void send_call(const struct config *cfg, const struct pool_key *k, struct buf *url,
		      const char *model, const char *prompt, struct upstream_xfer *x)
{
	upstream_xfer_free(x);
	buf_puts(&x->headers, "Content-Type: application/json\n");
	if (strcmp(k->provider, "vertex") == 0) {
		buf_printf(&x->headers, "Authorization: Bearer %s\n", k->secret);
	} else {
		buf_reset(url);
		gemini_url(url, cfg->gemini_base_url, model);
		buf_printf(&x->headers, "x-goog-api-key: %s\n", k->secret);
	}
	x->url = url->data;
	build_request(&x->body, prompt);
	int timeout_s = cfg->upstream_timeout_seconds < ENHANCE_TIMEOUT_CAP_S
				? cfg->upstream_timeout_seconds
				: ENHANCE_TIMEOUT_CAP_S;
	x->timeout_ms = timeout_s * 1000L;
	x->connect_timeout_ms = (cfg->upstream_connect_timeout_seconds < timeout_s
					 ? cfg->upstream_connect_timeout_seconds
					 : timeout_s) *
				1000L;
	x->max_response = ENHANCE_MAX_RESPONSE;
	upstream_start(x);
	/* libcurl's total timeout bounds this loop.  A responder runs one
	 * request at a time, so the only transfer that can finish is ours. */
	struct upstream_xfer *done;
	do
		done = upstream_wait(1000);
	while (done != x && (done || upstream_running() > 0));
}

/* Makes the call, with a key of the providers gemini_providers names, in
 * its order.  Returns 0 with res->text filled, or -1 with res->err saying why
 * (and res->fallback telling whether that counts as a failure). */
static int call_model(const struct config *cfg, struct sqlite3 *db, const char *prompt,
		      const char *model, const char *request_id, struct enhance_result *res)
{
	const char *order[3] = {NULL, NULL, NULL};
	config_provider_rank(cfg, order);
	struct pool_key k;
	struct buf url = BUF_INIT;
	struct upstream_xfer x;
	memset(&x, 0, sizeof x);
	char finish[40];
	int retry_after = 0, skips = 0, rotations = 0, served = 0;
	long reauthed = 0; /* the Vertex account whose token was refreshed after a 401 */
	enum img_err rc = pool_take_first(cfg, db, order, 0, 0, &k, &retry_after);
	for (int attempt = 0; rc == IMG_OK; attempt++) {
		rc = vertex_ready_key(cfg, db, order, 0, model, &k, &url, &skips, ENHANCE_MAX_SKIPS,
				      &retry_after, &res->err);
		if (rc != IMG_OK)
			break;
		res->provider = strcmp(k.provider, "vertex") == 0 ? "vertex" : "gemini";
		snprintf(res->account, sizeof res->account, "%s", k.label);
		send_call(cfg, &k, &url, model, prompt, &x);
		finish[0] = '\0';
		if (reauthed != k.id && vertex_token_refused(db, &k, &x, &res->err)) {
			/* The same account once more, with a fresh token. */
			reauthed = k.id;
			res->upstream_status = 401;
			metrics_upstream(k.provider, &x, res->err.code, 0);
			log_call(request_id, model, &k, attempt, &x, res, finish);
			memset(k.secret, 0, sizeof k.secret);
			continue;
		}
		enum pool_step step = classify(cfg, db, &k, &x, res, finish, sizeof finish);
		metrics_upstream(k.provider, &x, res->err.code, 0);
		if (res->err.code == IMG_OK) {
			/* A rewrite the gateway would refuse to generate from is no help. */
			char matched[FILTER_MATCHED_MAX];
			if (filter_check(cfg, buf_cstr(&res->text), matched, sizeof matched)) {
				buf_reset(&res->text);
				err_set(&res->err, IMG_CONTENT_FILTERED, NULL,
					"The model's rewrite contains a filtered word.");
			}
		}
		log_call(request_id, model, &k, attempt, &x, res, finish);
		served = res->err.code == IMG_OK;
		res->fallback = !served;
		/* A key the pool has just cooled or disabled (429, rejected) is
		 * the key's fault, not the request's: the next account may serve.
		 * Anything slower to fail (5xx, timeouts) is not retried. */
		if (served || step != POOL_ROTATE || rotations++ >= ENHANCE_MAX_ROTATIONS)
			goto out;
		memset(k.secret, 0, sizeof k.secret);
		if (pool_take_first(cfg, db, order, 0, k.id, &k, &retry_after) != IMG_OK)
			goto out; /* none left: the fallback, with this call's error */
	}
	/* No key at all is the offline configuration; accounts that are all
	 * cooling down, disabled or without a token are an upstream failure. */
	res->fallback = rc == IMG_QUOTA_EXHAUSTED || pool_has_account(cfg, db, order);
	err_clear(&res->err);
	if (res->fallback) {
		err_set(&res->err, rc, NULL, NULL);
		res->err.retry_after = retry_after;
	}
out:
	memset(k.secret, 0, sizeof k.secret);
	upstream_xfer_free(&x);
	buf_free(&url);
	return served ? 0 : -1;
}

void enhance_prompt(const struct config *cfg, struct sqlite3 *db, const char *prompt,
		    const char *model_hint, const char *request_id, struct enhance_result *res)
{
	memset(res, 0, sizeof *res);
	long t0 = now_ms();
	res->provider = "local";
	const char *model = pick_model(cfg, model_hint);
	if (call_model(cfg, db, prompt, model, request_id, res) == 0) {
		snprintf(res->model, sizeof res->model, "%s", model);
	} else {
		buf_reset(&res->text);
		enhance_offline(prompt, (size_t)cfg->max_prompt_chars, &res->text);
		snprintf(res->model, sizeof res->model, "%s", ENHANCE_OFFLINE_MODEL);
	}
	res->duration_ms = now_ms() - t0;
}

void enhance_result_free(struct enhance_result *res)
{
	buf_free(&res->text);
	memset(res, 0, sizeof *res);
}
