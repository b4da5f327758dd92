/* JWT (RS256) encoding and Vertex service-account files and token cache. */
#include "../../core/jwt.c"
#include "../../core/vertex.c"

#include "testdb.h"
#include "unit.h"

/* A throwaway 1024-bit test key (generated for this test only). */
static const char test_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			       "MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAK3oQCRyALgZGk35\n"
			       "LnsP+GIbSslktB+qMRx8Qw8QlFaTcGo6asupdilQni2t52qc/CplEPDIUe4WQPi/\n"
			       "W+xSIVwdyT7j4IO3otVFzc+coHm6lKnvUC8VF8N6eKtb+89IBFM98tSWCILWHkAl\n"
			       "0rSav1RFoXFyASRA38fsNHxS1Z4VAgMBAAECgYAeP4JAlI+pdbxMiaXbA8kZD1Qv\n"
			       "uVNXGpwWL0reqOyULmrkHysKJ3yE7R/GJDRXJ9z4ZsHOj5kohzhfy7DqZtKkUKVU\n"
			       "c7wnN2wYqd6OjSr2cmYbWBRqThYEm19LcVmuNXKiJXpSEhTA3VDXh3N1mBl983XV\n"
			       "Yx6a9s5ZQkz/LdxYdQJBANZN2+S461THJJDvwZZ66t3XGjKqgBdyiBfjIP5BRiMC\n"
			       "MTdq7KcW0hE7nz3FhCviwYmLnqMeXTByPVUPqz5/zvsCQQDPvkmHGjvYiBloMMIw\n"
			       "bH1KulVRtQOIyeP4KEkzXrEju1TkAJVkC23ApbQDAGMWA/Ds0v3WxNEMfZ6ywvS5\n"
			       "QXovAkEAlrWwo9xsG3XlQExsPzB4RcTFNsZzSIoSLYJcrJIpCeu7wvZeMW+6EcZ1\n"
			       "SZLDTb2tT9axnJN5A94DRfO8ATsOywJBAMlunujrHQA15zzJmmFNsKcWyceyFr05\n"
			       "1Vw349J1jJky+XsivbgGBON5SHRomastIxze8NagfHr6CzkWJCjFPm0CQDRteWj1\n"
			       "ZVQgCOspACMwsSf2/JqkuzYo9dv4Mhl8PY0IXwW71oqDAaQzSXjknxaTP95q112P\n"
			       "Eg0jFbVaSsolAH0=\n"
			       "-----END PRIVATE KEY-----\n";

/* What `openssl dgst -sha256 -sign` gives for the same header and claims:
 * RSASSA-PKCS1-v1_5 is deterministic, so the whole token must match. */
static const char expected_jwt[] =
	"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.eyJpc3MiOiJzYUBwLmlhbS5nc2Vy"
	"dmljZWFjY291bnQuY29tIiwic2NvcGUiOiJodHRwczovL3d3dy5nb29nbGVhcGlzLmNvbS9hdXRoL2Ns"
	"b3VkLXBsYXRmb3JtIiwiYXVkIjoiaHR0cHM6Ly9vYXV0aDIuZ29vZ2xlYXBpcy5jb20vdG9rZW4iLCJp"
	"YXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0.ivXKdMzlDnvMyoHB3rdi7oggGYBKtA1EKQhz"
	"P7b9WFkBP7eYWmgw745O1bN_PYykdBSDa-aI90_qXD0Db99PLR378Errx4TgkGTo7TYRm_606Vj6x8ag"
	"IB18Vy5H7Pjr1nhZSYlXjA7er9FSc_gvNGwOwkWOFhJXRqMaU-tPh9c";

static const char *b64url(const char *s, size_t n)
{
	static struct buf b;
	buf_reset(&b);
	jwt_b64url(&b, s, n);
	return buf_cstr(&b);
}

TEST(b64url_vectors)
{
	CHECK_STR(b64url("", 0), "");
	CHECK_STR(b64url("f", 1), "Zg");
	CHECK_STR(b64url("fo", 2), "Zm8");
	CHECK_STR(b64url("foo", 3), "Zm9v");
	CHECK_STR(b64url("foob", 4), "Zm9vYg");
	CHECK_STR(b64url("fooba", 5), "Zm9vYmE");
	CHECK_STR(b64url("foobar", 6), "Zm9vYmFy");
	CHECK_STR(b64url("\xfb\xff\xbf", 3), "-_-_");
	CHECK_STR(b64url("\xff\xfe", 2), "__4");
}

TEST(sign_matches_openssl)
{
	struct jwt_claims c = {"sa@p.iam.gserviceaccount.com",
			       SCOPE,
			       "https://oauth2.googleapis.com/token",
			       1700000000,
			       1700003600,
			       "k1"};
	struct buf out = BUF_INIT;
	char err[200] = "";
	CHECK_INT(jwt_sign_rs256(&out, &c, test_pem, err, sizeof err), 0);
	CHECK_STR(buf_cstr(&out), expected_jwt);
	buf_free(&out);
}

TEST(sign_bad_keys)
{
	struct jwt_claims c = {"a@b", SCOPE, "https://x/token", 1, 2, NULL};
	struct buf out = BUF_INIT;
	char err[200] = "";
	CHECK_INT(jwt_sign_rs256(&out, &c, "not a key", err, sizeof err), -1);
	CHECK(strstr(err, "PEM") != NULL);
	CHECK_INT(out.len, 0);
	const char *broken = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
	CHECK_INT(jwt_sign_rs256(&out, &c, broken, err, sizeof err), -1);
	CHECK(strstr(err, "cannot be read") != NULL);
	CHECK(strstr(err, "AAAA") == NULL);
	CHECK_INT(jwt_check_key(test_pem, err, sizeof err), 0);
	buf_free(&out);
}

/* A service-account file's JSON with the test key and the given extras. */
static void sa_json(struct buf *b, const char *type, const char *token_uri, int with_email)
{
	buf_reset(b);
	buf_puts(b, "{\"type\":");
	json_put_cstr(b, type);
	buf_puts(b, ",\"project_id\":\"proj-1\",\"private_key_id\":\"k1\",\"private_key\":");
	json_put_cstr(b, test_pem);
	if (with_email)
		buf_puts(b, ",\"client_email\":\"sa@proj-1.iam.gserviceaccount.com\"");
	if (token_uri) {
		buf_puts(b, ",\"token_uri\":");
		json_put_cstr(b, token_uri);
	}
	buf_putc(b, '}');
}

TEST(sa_parse)
{
	struct buf b = BUF_INIT;
	struct vertex_sa sa;
	char err[200];
	sa_json(&b, "service_account", NULL, 1);
	CHECK_INT(vertex_sa_parse(b.data, b.len, &sa, err, sizeof err), 0);
	CHECK_STR(sa.token_uri, "https://oauth2.googleapis.com/token");
	CHECK_STR(sa.project_id, "proj-1");
	CHECK_STR(sa.client_email, "sa@proj-1.iam.gserviceaccount.com");
	vertex_sa_free(&sa);
	sa_json(&b, "service_account", "http://127.0.0.1:9/token", 1);
	CHECK_INT(vertex_sa_parse(b.data, b.len, &sa, err, sizeof err), 0);
	vertex_sa_free(&sa);
	sa_json(&b, "service_account", "http://evil.example/token", 1);
	CHECK_INT(vertex_sa_parse(b.data, b.len, &sa, err, sizeof err), -1);
	CHECK(strstr(err, "token_uri") != NULL);
	sa_json(&b, "authorized_user", NULL, 1);
	CHECK_INT(vertex_sa_parse(b.data, b.len, &sa, err, sizeof err), -1);
	CHECK(strstr(err, "authorized_user") != NULL);
	sa_json(&b, "service_account", NULL, 0);
	CHECK_INT(vertex_sa_parse(b.data, b.len, &sa, err, sizeof err), -1);
	CHECK(strstr(err, "client_email") != NULL);
	CHECK_INT(vertex_sa_parse("[1]", 3, &sa, err, sizeof err), -1);
	CHECK_INT(vertex_sa_parse("{", 1, &sa, err, sizeof err), -1);
	buf_free(&b);
}

TEST(urls)
{
	struct buf b = BUF_INIT;
	vertex_url(&b, "", "p1", "global", "gemini-3-pro-image-preview");
	CHECK_STR(buf_cstr(&b), "https://aiplatform.googleapis.com/v1/projects/p1/locations/"
				"global/publishers/google/models/"
				"gemini-3-pro-image-preview:generateContent");
	buf_reset(&b);
	vertex_url(&b, NULL, "p1", "us-central1", "m");
	CHECK_STR(buf_cstr(&b), "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/"
				"locations/us-central1/publishers/google/models/m:generateContent");
	buf_reset(&b);
	vertex_url(&b, "http://127.0.0.1:5/", "p1", "europe-west4", "m");
	CHECK_STR(buf_cstr(&b), "http://127.0.0.1:5/v1/projects/p1/locations/europe-west4/"
				"publishers/google/models/m:generateContent");
	buf_free(&b);
}

TEST(refresh_policy)
{
	struct cached c = {.expires = 1000 + 3600, .fetched = 1000};
	snprintf(c.token, sizeof c.token, "t");
	CHECK(fresh(&c, 1000));
	CHECK(fresh(&c, 1000 + 3600 - 301));
	CHECK(!fresh(&c, 1000 + 3600 - 300)); /* five minutes ahead at most */
	CHECK(usable(&c, 1000 + 3600 - 300));
	CHECK(!usable(&c, 1000 + 3600 - MIN_TOKEN_REMAINING));
	struct cached s = {.expires = 1020, .fetched = 1000}; /* a 20 s token */
	snprintf(s.token, sizeof s.token, "t");
	CHECK(fresh(&s, 1014));
	CHECK(!fresh(&s, 1015)); /* a quarter of its life ahead */
	c.token[0] = '\0';
	CHECK(!fresh(&c, 1000));
	CHECK(!usable(&c, 1000));
}

TEST(one_claim_at_a_time)
{
	struct config cfg = {0};
	struct testdb t;
	if (testdb_open(&t, &cfg, "vertex") != 0) {
		CHECK(0);
		return;
	}
	/* Two connections stand for two responders. */
	char err[256];
	struct sqlite3 *other = db_open(&cfg, err, sizeof err);
	CHECK(other != NULL);
	sqlite3_exec(t.db,
		     "INSERT INTO accounts(id, provider, label, source, fingerprint, created) "
		     "VALUES (7, 'vertex', 'v', 'db', 'f', 0)",
		     NULL, NULL, NULL);
	CHECK(claim(t.db, 7, 100, 30));
	CHECK(!claim(other, 7, 101, 30)); /* held */
	CHECK(!claim(t.db, 7, 129, 30));
	CHECK(claim(other, 7, 130, 30)); /* a lapsed claim can be taken over */
	store(other, 7, "tok-1", 130, 3600);
	struct cached c;
	CHECK_INT(read_cached(t.db, 7, &c), 0);
	CHECK_STR(c.token, "tok-1");
	CHECK_INT(c.expires, 3730);
	CHECK_INT(c.refreshing_until, 0);
	CHECK(claim(t.db, 7, 131, 30)); /* released by the store */
	store(t.db, 7, NULL, 0, 0);
	/* Dropping a refused token leaves a newer one alone. */
	vertex_token_drop(t.db, 7, "tok-0");
	read_cached(t.db, 7, &c);
	CHECK_STR(c.token, "tok-1");
	vertex_token_drop(t.db, 7, "tok-1");
	read_cached(t.db, 7, &c);
	CHECK_STR(c.token, "");
	CHECK_INT(c.expires, 0);
	db_close(other);
	testdb_close(&t);
}

/* The steps every Gemini caller shares, without a network: a cached token
 * readies an account, an unusable one is disabled and the next key taken, and
 * a 401 (only that) drops the token. */
TEST(ready_key_and_refused_token)
{
	struct config cfg = {0};
	struct testdb t;
	if (testdb_open(&t, &cfg, "vready") != 0) {
		CHECK(0);
		return;
	}
	cfg.vertex_base_url = "http://127.0.0.1:5";
	cfg.upstream_connect_timeout_seconds = 1;
	struct buf sa = BUF_INIT, url = BUF_INIT;
	sa_json(&sa, "service_account", NULL, 1);
	sqlite3_stmt *st = db_stmt(t.db, "INSERT INTO accounts(id, provider, label, source, "
					 "secret, fingerprint, created) VALUES (:id, 'vertex', "
					 ":label, 'db', :secret, 'f', 0)");
	db_bind_int64(st, ":id", 7);
	db_bind_text(st, ":label", "good");
	db_bind_text(st, ":secret", buf_cstr(&sa));
	CHECK_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_reset(st);
	db_bind_int64(st, ":id", 8);
	db_bind_text(st, ":label", "no-file");
	sqlite3_bind_null(st, sqlite3_bind_parameter_index(st, ":secret"));
	CHECK_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_reset(st);
	long now = (long)time(NULL);
	CHECK(claim(t.db, 7, now, 30));
	store(t.db, 7, "tok-7", now, 3600);

	const char *const vertex_only[] = {"vertex", NULL};
	struct pool_key k = {.id = 8, .label = "no-file", .provider = "vertex"};
	struct img_error e;
	err_clear(&e);
	int skips = 0, retry_after = 0;
	CHECK_INT(vertex_ready_key(&cfg, t.db, vertex_only, 0, "gemini-2.5-flash", &k, &url, &skips,
				   2, &retry_after, &e),
		  IMG_OK);
	CHECK_INT(k.id, 7);
	CHECK_STR(k.secret, "tok-7");
	CHECK_STR(buf_cstr(&url), "http://127.0.0.1:5/v1/projects/proj-1/locations/global/"
				  "publishers/google/models/gemini-2.5-flash:generateContent");
	CHECK_INT(skips, 1);
	CHECK_INT(e.code, IMG_UPSTREAM_AUTH); /* why the first account was passed over */
	CHECK_INT(pool_usable(t.db, "vertex"), 1);
	/* Past max_skips: the token's error, no other key taken. */
	struct pool_key bad = {.id = 8, .label = "no-file", .provider = "vertex"};
	skips = 0;
	CHECK_INT(vertex_ready_key(&cfg, t.db, vertex_only, 0, "m", &bad, &url, &skips, 0,
				   &retry_after, &e),
		  IMG_UPSTREAM_AUTH);
	CHECK_INT(bad.id, 8);
	/* A Gemini API key is left as it is. */
	struct pool_key g = {.id = 0, .label = "gemini-env-1", .provider = "gemini", .secret = "k"};
	buf_reset(&url);
	buf_puts(&url, "unchanged");
	CHECK_INT(vertex_ready_key(&cfg, t.db, vertex_only, 0, "m", &g, &url, &skips, 0,
				   &retry_after, &e),
		  IMG_OK);
	CHECK_STR(g.secret, "k");
	CHECK_STR(buf_cstr(&url), "unchanged");

	/* Only a Vertex call's 401 is a refused token. */
	struct upstream_xfer x;
	memset(&x, 0, sizeof x);
	x.status = 401;
	err_clear(&e);
	CHECK_INT(vertex_token_refused(t.db, &g, &x, &e), 0);
	x.status = 403;
	CHECK_INT(vertex_token_refused(t.db, &k, &x, &e), 0);
	x.status = 0;
	x.fail = UPSTREAM_NETWORK;
	CHECK_INT(vertex_token_refused(t.db, &k, &x, &e), 0);
	CHECK_INT(e.code, IMG_OK);
	struct cached c;
	read_cached(t.db, 7, &c);
	CHECK_STR(c.token, "tok-7");
	x.status = 401;
	x.fail = UPSTREAM_OK;
	CHECK_INT(vertex_token_refused(t.db, &k, &x, &e), 1);
	CHECK_INT(e.code, IMG_UPSTREAM_AUTH);
	CHECK_INT(e.upstream_status, 401);
	read_cached(t.db, 7, &c);
	CHECK_STR(c.token, ""); /* the next vertex_authorize fetches a new one */
	buf_free(&sa);
	buf_free(&url);
	testdb_close(&t);
}

TEST(dir_labels)
{
	char l[64];
	CHECK_INT(dir_label("prod.json", l, sizeof l), 0);
	CHECK_STR(l, "vertex-dir-prod");
	CHECK_INT(dir_label("my key (2).json", l, sizeof l), 0);
	CHECK_STR(l, "vertex-dir-my_key__2_");
	CHECK_INT(dir_label(".hidden.json", l, sizeof l), -1);
	CHECK_INT(dir_label("notes.txt", l, sizeof l), -1);
	CHECK_INT(dir_label(".json", l, sizeof l), -1);
}

int main(void)
{
	RUN(b64url_vectors);
	RUN(sign_matches_openssl);
	RUN(sign_bad_keys);
	RUN(sa_parse);
	RUN(urls);
	RUN(refresh_policy);
	RUN(one_claim_at_a_time);
	RUN(ready_key_and_refused_token);
	RUN(dir_labels);
	UNIT_DONE();
}
