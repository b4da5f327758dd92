/* Unit tests for core/filter.c (SPEC 6.3): whole-word and phrase matching,
 * folding of case, accents, leetspeak, spelled-out and stretched words, no
 * false positives on innocent words and numbers, content_filter = off, list
 * files (replacing and extending the built-in list, bad lines, a missing
 * file), bytes that are not UTF-8, and the time an 8000-character prompt
 * takes. */
#include "../../core/filter.c"

#include <ctype.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

static struct config cfg;
static char matched[FILTER_MATCHED_MAX];

static void use_builtin(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.content_filter = (char *)"on";
	cfg.content_filter_file = (char *)"";
}

/* 1 when text is blocked as `want` (the listed entry), else says why not. */
static int blocks_as(const char *text, const char *want)
{
	int rc = filter_check(&cfg, text, matched, sizeof matched);

	if (rc != 1 || strcmp(matched, want) != 0) {
		fprintf(stderr, "  \"%s\": got %d \"%s\", want 1 \"%s\"\n", text, rc, matched,
			want);
		return 0;
	}
	return 1;
}

static int passes(const char *text)
{
	int rc = filter_check(&cfg, text, matched, sizeof matched);

	if (rc != 0 || matched[0]) {
		fprintf(stderr, "  \"%s\": blocked as \"%s\"\n", text, matched);
		return 0;
	}
	return 1;
}

/* Writes text to a new temp file; the caller unlinks path. */
static void write_list(char *path, const char *text)
{
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f) {
		perror("mkstemp");
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

TEST(builtin_list_loads_cleanly)
{
	struct buf errs = BUF_INIT;

	use_builtin();
	CHECK_INT(filter_load(&cfg, &errs), 0);
	CHECK_STR(buf_cstr(&errs), "");
	CHECK(tab.n >= 150 && tab.n <= 300);
	CHECK(tab.word_max >= 8 && tab.word_max < TOK_MAX);
	/* A second load is a no-op. */
	int n = tab.n;
	CHECK_INT(filter_load(&cfg, &errs), 0);
	CHECK_INT(tab.n, n);
	CHECK_INT(filter_load(NULL, NULL), 0);
	buf_free(&errs);
}

TEST(every_entry_matches_itself)
{
	/* Each listed line, as written and in capitals, is blocked as itself or
	 * as an entry it contains (e.g. "porn star" holds "porn"). */
	use_builtin();
	filter_load(&cfg, NULL);
	for (int i = 0; i < tab.n; i++) {
		char up[FILTER_MATCHED_MAX];
		size_t k;

		for (k = 0; tab.e[i].text[k] && k + 1 < sizeof up; k++)
			up[k] = (char)toupper((unsigned char)tab.e[i].text[k]);
		up[k] = '\0';
		if (filter_check(&cfg, tab.e[i].text, matched, sizeof matched) != 1 ||
		    filter_check(&cfg, up, NULL, 0) != 1) {
			fprintf(stderr, "  entry \"%s\" does not match itself\n", tab.e[i].text);
			CHECK(0);
		}
	}
}

TEST(exact_words_and_case)
{
	use_builtin();
	CHECK(blocks_as("porn", "porn"));
	CHECK(blocks_as("a photo of porn in a magazine", "porn"));
	CHECK(blocks_as("PORN", "porn"));
	CHECK(blocks_as("PoRnOgRaPhY", "pornography"));
	CHECK(blocks_as("\"Hentai\", please", "hentai"));
	CHECK(blocks_as("porn!", "porn"));
	CHECK(blocks_as("(porn)", "porn"));
	CHECK(blocks_as("http://porn.example/x", "porn"));
	CHECK(blocks_as("nsfw art", "nsfw"));
	CHECK(blocks_as("a lolicon poster", "lolicon"));
	/* Regular plurals come from the singular entry. */
	CHECK(blocks_as("many porns", "porn"));
	CHECK(blocks_as("two pipe bombs", "pipe bomb"));
	CHECK(blocks_as("naked kids", "naked kid"));
}

TEST(accents)
{
	use_builtin();
	CHECK(blocks_as("p\xc3\xb6rn", "porn"));		   /* pörn */
	CHECK(blocks_as("P\xc3\x96RN", "porn"));		   /* PÖRN */
	CHECK(blocks_as("p\xc3\xb3rn\xc3\xb3", "porno"));	   /* pórnó */
	CHECK(blocks_as("h\xc3\xa9nt\xc3\xa0\xc3\xae", "hentai")); /* héntàî */
	CHECK(blocks_as("po\xcc\x88rn", "porn"));		   /* o + combining diaeresis */
	CHECK(blocks_as("p\xc5\x8d\xc5\x95n", "porn"));		   /* pōŕn (Latin Extended-A) */
	CHECK(blocks_as("\xef\xbd\x90\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x8e",
			"porn")); /* fullwidth */
	/* Invisible characters inside a word are dropped. */
	CHECK(blocks_as("p\xe2\x80\x8born", "porn")); /* zero-width space */
	CHECK(blocks_as("por\xc2\xadn", "porn"));     /* soft hyphen */
	CHECK(blocks_as("p\xef\xb8\x8forn", "porn")); /* variation selector */
	/* A CJK character is a word of its own, so no space is needed. */
	CHECK(blocks_as("\xe8\x89\xb2\xe6\x83\x85porn", "porn"));
}

TEST(leetspeak)
{
	use_builtin();
	CHECK(blocks_as("p0rn", "porn"));
	CHECK(blocks_as("P0RN", "porn"));
	CHECK(blocks_as("pr0n", "pr0n"));
	CHECK(blocks_as("pron", "pr0n"));
	CHECK(blocks_as("h3nt41", "hentai"));
	CHECK(blocks_as("wh0r3", "whore"));
	CHECK(blocks_as("$lut", "slut"));
	CHECK(blocks_as("5lut", "slut"));
	CHECK(blocks_as("s1ut", "slut")); /* 1 as l */
	CHECK(blocks_as("cl1t", "clit")); /* 1 as i */
	CHECK(blocks_as("cl!t", "clit")); /* ! inside a word */
	CHECK(blocks_as("@hegao", "ahegao"));
	CHECK(blocks_as("b00bs", "boobs"));
	CHECK(blocks_as("n1gg3r", "nigger"));
	CHECK(blocks_as("p0rn!!!", "porn"));
	CHECK(blocks_as("rule34", "rule34"));
	CHECK(blocks_as("rule 34", "rule 34"));
	CHECK(blocks_as("a 3D printed gun", "3d printed gun"));
	CHECK(blocks_as("the 3-d printed gun", "3d printed gun"));
}

TEST(spelled_out_and_stretched)
{
	use_builtin();
	CHECK(blocks_as("p o r n", "porn"));
	CHECK(blocks_as("p.o.r.n", "porn"));
	CHECK(blocks_as("P. O. R. N.", "porn"));
	CHECK(blocks_as("p-o-r-n", "porn"));
	CHECK(blocks_as("p_o_r_n", "porn"));
	CHECK(blocks_as("p*o*r*n", "porn"));
	CHECK(blocks_as("p 0 r n", "porn"));
	CHECK(blocks_as("n s f w", "nsfw"));
	/* Next to a real one-letter word. */
	CHECK(blocks_as("draw a p o r n scene", "porn"));
	CHECK(blocks_as("I p o r n", "porn"));
	/* A spelled-out word inside a phrase. */
	CHECK(blocks_as("having s e x", "having sex"));
	CHECK(blocks_as("k i l l myself", "kill myself"));
	/* Stretched letters. */
	CHECK(blocks_as("pooorn", "porn"));
	CHECK(blocks_as("pornnnnn", "porn"));
	CHECK(blocks_as("boooooobs", "boobs"));
	CHECK(blocks_as("h e n t a a a i", "hentai"));
	/* Too far apart, or split by other punctuation: not joined. */
	CHECK(passes("p   o   r   n"));
	CHECK(passes("p/o/r/n"));
	CHECK(passes("p,o,r,n"));
	CHECK(passes("p\no\nr\nn"));
}

TEST(phrases)
{
	use_builtin();
	CHECK(blocks_as("two people having sex", "having sex"));
	CHECK(blocks_as("HAVING   SEX", "having sex"));
	CHECK(blocks_as("having, sex", "having sex"));
	CHECK(blocks_as("having -- sex", "having sex"));
	CHECK(blocks_as("having\n\tsex", "having sex"));
	CHECK(blocks_as("having\xe2\x80\x94sex", "having sex")); /* em dash */
	CHECK(blocks_as("h4ving s3x", "having sex"));
	CHECK(blocks_as("tell me how to kill myself", "how to kill myself")); /* the longest */
	CHECK(blocks_as("I will kill myself", "kill myself"));
	CHECK(blocks_as("Heil Hitler!", "heil hitler"));
	CHECK(blocks_as("a n\xc3\xbc"
			"de w\xc3\xb6man",
			"nude woman"));
	/* After more words than the ring holds. */
	CHECK(blocks_as("one two three four five six seven eight nine ten eleven twelve thirteen "
			"fourteen fifteen naked child",
			"naked child"));
	/* Half a phrase, or its words apart or out of order: no match. */
	CHECK(passes("myself"));
	CHECK(passes("how to kill"));
	CHECK(passes("sex having"));
	CHECK(passes("having fun, sex education later"));
	CHECK(passes("kill the lights, then photograph myself"));
}

TEST(no_false_positives)
{
	static const char *const innocent[] = {
		"Scunthorpe",
		"Scunthorpe United",
		"cocktail",
		"a cocktail party",
		"assassin",
		"therapist",
		"grape",
		"grapes",
		"Sussex",
		"Essex",
		"Middlesex",
		"shitake",
		"shitake mushrooms",
		"analysis",
		"analytics",
		"cumulus clouds",
		"cucumber",
		"Dickens",
		"Clitheroe",
		"Penistone",
		"homosexual",
		"bisexual",
		"sextant",
		"sexton",
		"rapeseed",
		"oilseed rape",
		"snigger",
		"niggardly",
		"Niger",
		"Nigeria",
		"Pakistan",
		"Pakistani food",
		"flame retardant",
		"Spic and Span",
		"blue tits on a branch",
		"pussy willow",
		"a cock crowing at dawn",
		"Moby Dick",
		"seen with the naked eye",
		"nude lipstick",
		"nude heels",
		"a same-sex wedding",
		"sex education poster",
		"the sex of a kitten",
		"Al Gore",
		"a Gore-Tex jacket",
		"a white power bank on a desk",
		"a bath bomb",
		"build a bomb shelter",
		"cutting myself a slice of cake",
		"no clothes on the floor",
		"cockpit",
		"shuttlecock",
		"Hancock",
		"Cockburn",
		"skyscraper",
		"scrapbook",
		"button",
		"title",
		"Matsushita",
		"Arsenal",
		"glass",
		"grass",
		"kiss",
		"class",
		"assessment",
		"passion",
		"hentaigana",
		"pornographer",
		"pedometer",
		"a dish of pedo",
		"a guro in class",
		"a loli pop",
		"shota the chef",
		"kill the lights",
		"shoot a photo",
		"a photo shoot",
		"a horror movie poster",
		"xx",
		"xxx",
		"x x x",
		"A B C D",
		"U.S.A.",
		"e.g. a cat",
		"i.e. a dog",
		"x y z axes",
		"plan a b",
		"a b c testing",
		"I am a cat",
		"a i art",
		"2024",
		"1080p",
		"1920x1080",
		"4K",
		"8K UHD",
		"3D render",
		"mp4",
		"b2b",
		"h2o",
		"1488 pixels",
		"88 keys",
		"a 5x5 grid",
		"v1.0",
		"$5 bill",
		"100%",
		"l33t h4x0r",
		"1337",
		"c4 engine",
		"b00k",
		"gr8",
		"b4",
		"noob",
		"pooh bear",
		"I want to dye my hair",
		"killing time",
		"the pro anatomy class",
		"a nerve in the arm",
		"Molotov, the foreign minister",
		"a cocktail of fruit",
		"Mississippi",
		"E. E. Cummings",
		"Cumming, Georgia",
		"bookkeeper",
		"aaaaah",
		"zzzz",
		"hmmmm",
		"soooo cute",
		"\xd0\xbf\xd0\xbe\xd1\x80\xd0\xbd", /* Cyrillic: not folded */
		"\xe8\x89\xb2\xe6\x83\x85",	    /* CJK only */
		"caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
		"e",
		"Stra\xc3\x9f"
		"e",
		"\xc3\x86sir",
		"\xc5\x81\xc3\xb3"
		"d\xc5\xba",
		"na\xc3\xafve",
		"",
	};

	use_builtin();
	for (size_t i = 0; i < sizeof innocent / sizeof innocent[0]; i++)
		CHECK(passes(innocent[i]));
	CHECK(filter_check(&cfg, NULL, matched, sizeof matched) == 0);
}

TEST(off_and_matched_buffer)
{
	use_builtin();
	cfg.content_filter = (char *)"off";
	strcpy(matched, "junk");
	CHECK_INT(filter_check(&cfg, "porn", matched, sizeof matched), 0);
	CHECK_STR(matched, "");
	cfg.content_filter = (char *)"on";
	/* matched is optional and cut to its size. */
	CHECK_INT(filter_check(&cfg, "porn", NULL, 0), 1);
	char small[4];
	CHECK_INT(filter_check(&cfg, "pornography", small, sizeof small), 1);
	CHECK_STR(small, "por");
	CHECK_INT(filter_check(&cfg, "pornography", small, 1), 1);
	CHECK_STR(small, "");
	/* No config at all: on, with the built-in list. */
	CHECK_INT(filter_check(NULL, "porn", NULL, 0), 1);
}

TEST(custom_list_replaces_builtin)
{
	char path[] = "/tmp/imagegw-filter-XXXXXX";
	struct buf errs = BUF_INIT;

	write_list(path, "# site list\n"
			 "\n"
			 "  banana split  \r\n"
			 "strasse\n"
			 "aether\n"
			 "lodz\n"
			 "\xd0\xbf\xd0\xbe\xd1\x80\xd0\xbd\xd0\xbe\n" /* порно */
			 "\xe8\x89\xb2\xe6\x83\x85\n"		      /* 色情 */
			 "no newline at the end");
	use_builtin();
	cfg.content_filter_file = path;
	CHECK_INT(filter_load(&cfg, &errs), 0);
	CHECK_STR(buf_cstr(&errs), "");
	CHECK_INT(tab.n, 7);
	CHECK(passes("porn"));
	CHECK(blocks_as("a Banana,  SPLIT!", "banana split"));
	CHECK(blocks_as("Stra\xc3\x9f"
			"e",
			"strasse"));		    /* ß */
	CHECK(blocks_as("\xc3\x86ther", "aether")); /* Æ */
	CHECK(blocks_as("\xc5\x81\xc3\xb3"
			"d\xc5\xba",
			"lodz"));				    /* Łódź */
	CHECK(blocks_as("\xd0\x9f\xd0\x9e\xd0\xa0\xd0\x9d\xd0\x9e", /* ПОРНО */
			"\xd0\xbf\xd0\xbe\xd1\x80\xd0\xbd\xd0\xbe"));
	CHECK(blocks_as("\xe8\xa7\x82\xe7\x9c\x8b\xe8\x89\xb2\xe6\x83\x85\xe7\x89\x87",
			"\xe8\x89\xb2\xe6\x83\x85")); /* inside a CJK run */
	CHECK(blocks_as("no newline at the end", "no newline at the end"));
	CHECK(passes("banana"));
	/* Lazy loading follows the config too. */
	use_builtin();
	CHECK_INT(filter_check(&cfg, "porn", NULL, 0), 1);
	cfg.content_filter_file = path;
	CHECK_INT(filter_check(&cfg, "porn", NULL, 0), 0);
	CHECK_INT(filter_check(&cfg, "banana split", NULL, 0), 1);
	unlink(path);
	buf_free(&errs);
}

TEST(custom_list_extends_builtin)
{
	char path[] = "/tmp/imagegw-filter-XXXXXX";
	struct buf errs = BUF_INIT;

	write_list(path, "@builtin\nbanana split\n");
	use_builtin();
	cfg.content_filter_file = path;
	CHECK_INT(filter_load(&cfg, &errs), 0);
	CHECK_STR(buf_cstr(&errs), "");
	CHECK(blocks_as("porn", "porn"));
	CHECK(blocks_as("banana split", "banana split"));
	unlink(path);
	buf_free(&errs);
}

TEST(bad_lines_are_reported_and_skipped)
{
	char path[] = "/tmp/imagegw-filter-XXXXXX";
	char line[256];
	struct buf errs = BUF_INIT;

	write_list(path, "banana split\n"
			 "@include other\n"
			 "---\n"
			 "one two three four five six seven eight nine ten eleven twelve thirteen\n"
			 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd\n"
			 "cherry\n");
	use_builtin();
	cfg.content_filter_file = path;
	CHECK_INT(filter_load(&cfg, &errs), -1);
	snprintf(line, sizeof line, "%s: line 2: '@include other': unknown directive", path);
	CHECK(strstr(buf_cstr(&errs), line) != NULL);
	snprintf(line, sizeof line, "%s: line 3: '---': no word in it", path);
	CHECK(strstr(buf_cstr(&errs), line) != NULL);
	CHECK(strstr(buf_cstr(&errs), "line 4: ") && strstr(buf_cstr(&errs), "more than 12 words"));
	CHECK(strstr(buf_cstr(&errs), "line 5: ") && strstr(buf_cstr(&errs), "longer than 63"));
	CHECK_INT(tab.n, 2);
	CHECK(blocks_as("banana split", "banana split"));
	CHECK(blocks_as("cherry", "cherry"));
	/* The reasons come back on every call for the same file. */
	buf_reset(&errs);
	CHECK_INT(filter_load(&cfg, &errs), -1);
	CHECK(strstr(buf_cstr(&errs), "line 3: ") != NULL);
	unlink(path);
	buf_free(&errs);
}

TEST(missing_file)
{
	struct buf errs = BUF_INIT;

	use_builtin();
	cfg.content_filter_file = (char *)"/nonexistent/imagegw/filter.txt";
	CHECK_INT(filter_load(&cfg, &errs), -1);
	CHECK(strstr(buf_cstr(&errs), "/nonexistent/imagegw/filter.txt: No such file") != NULL);
	CHECK(strstr(buf_cstr(&errs), "built-in list instead") != NULL);
	/* The built-in list stands in. */
	CHECK(blocks_as("porn", "porn"));
	/* A directory is not a list either. */
	buf_reset(&errs);
	cfg.content_filter_file = (char *)"/tmp";
	CHECK_INT(filter_load(&cfg, &errs), -1);
	CHECK(strstr(buf_cstr(&errs), "content_filter_file /tmp: ") != NULL);
	buf_free(&errs);

	/* Loaded lazily by a check: logged once, the built-in list is used. */
	char log_path[] = "/tmp/imagegw-filter-log-XXXXXX";
	char text[1024] = "";
	FILE *f;
	write_list(log_path, "");
	cfg.log_file = log_path;
	cfg.log_level = (char *)"info";
	cfg.log_format = (char *)"json";
	CHECK_INT(log_open(&cfg), 0);
	table_free();
	cfg.content_filter_file = (char *)"/nonexistent/imagegw/filter.txt";
	CHECK(blocks_as("porn", "porn"));
	CHECK(blocks_as("hentai", "hentai"));
	CHECK_INT(tab.status, -1);
	log_default();
	f = fopen(log_path, "r");
	if (f) {
		size_t n = fread(text, 1, sizeof text - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	CHECK(strstr(text, "\"level\":\"error\"") != NULL);
	CHECK(strstr(text, "/nonexistent/imagegw/filter.txt: No such file") != NULL);
	CHECK(strchr(text, '\n') == strrchr(text, '\n')); /* one line */
	unlink(log_path);
}

TEST(any_bytes)
{
	use_builtin();
	/* Invalid UTF-8 separates words; it never joins them. */
	CHECK(passes("p\xffrn"));
	CHECK(blocks_as("\xff\xfeporn\xc3", "porn"));
	CHECK(blocks_as("\xc0\xafporn\xed\xa0\x80", "porn")); /* overlong, surrogate */
	CHECK(passes("por\xe2\x82"));
	CHECK(passes("\xf4\x90\x80\x80"));
	/* Every byte value, and pseudo-random strings: no crash (ASan/UBSan). */
	char s[512];
	for (int c = 1; c < 256; c++) {
		memset(s, c, sizeof s - 1);
		s[sizeof s - 1] = '\0';
		filter_check(&cfg, s, matched, sizeof matched);
	}
	unsigned x = 12345;
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(i % 200);
		for (size_t k = 0; k < n; k++) {
			x = x * 1103515245u + 12345u;
			s[k] = (char)(x >> 16);
			if (!s[k] || (x & 0x300) == 0)
				s[k] = " .pornsex0@$!\xc3\xa9\xe2\x80\x8b"[x % 17];
		}
		s[n] = '\0';
		filter_check(&cfg, s, matched, sizeof matched);
	}
	/* One very long word, and very long runs of one-letter words. */
	memset(s, 'a', sizeof s - 1);
	CHECK(passes(s));
	for (size_t k = 0; k + 1 < sizeof s; k += 2)
		s[k] = 'a', s[k + 1] = ' ';
	s[sizeof s - 1] = '\0';
	CHECK(passes(s));
}

TEST(long_prompt_timing)
{
	static const char *const words[] = {
		"a",	   "watercolour",    "painting", "of",
		"the",	   "harbour",	     "at",	 "dawn,",
		"fishing", "boats",	     "gulls",	 "and",
		"misty",   "hills;",	     "soft",	 "light",
		"(4K)",	   "caf\xc3\xa9",    "p.s.",	 "1080p",
		"x",	   "ultra-detailed", "scene",	 "B-52",
	};
	char *text = xmalloc(8001), *spelled = xmalloc(8001);
	size_t n = 0;
	int i = 0, reps = 200;
	double t0, t1, t2;

	while (n < 7980) {
		const char *w = words[i++ % (int)(sizeof words / sizeof words[0])];
		size_t k = strlen(w);
		memcpy(text + n, w, k);
		text[n + k] = ' ';
		n += k + 1;
	}
	text[n] = '\0';
	/* The worst case for the spelled-out check: 8000 one-letter words. */
	for (n = 0; n + 2 <= 8000; n += 2)
		spelled[n] = "abcdefghijklmnopqrstuvwxyz"[n / 2 % 26], spelled[n + 1] = ' ';
	spelled[n] = '\0';

	use_builtin();
	CHECK(passes(text));
	CHECK(passes(spelled));
	t0 = now_us();
	for (int r = 0; r < reps; r++)
		filter_check(&cfg, text, matched, sizeof matched);
	t1 = now_us();
	for (int r = 0; r < reps; r++)
		filter_check(&cfg, spelled, matched, sizeof matched);
	t2 = now_us();
	printf("  filter_check: %zu-byte prompt %.0f us, 8000 one-letter words %.0f us "
	       "(this build)\n",
	       strlen(text), (t1 - t0) / reps, (t2 - t1) / reps);
	/* Generous under ASan; the release build is several times faster. */
	CHECK((t1 - t0) / reps < 5000);
	/* Blocked at the very end of a long prompt. */
	memcpy(text + 7960, " naked child", 13);
	CHECK(blocks_as(text, "naked child"));
	free(text);
	free(spelled);
}

int main(void)
{
	RUN(builtin_list_loads_cleanly);
	RUN(every_entry_matches_itself);
	RUN(exact_words_and_case);
	RUN(accents);
	RUN(leetspeak);
	RUN(spelled_out_and_stretched);
	RUN(phrases);
	RUN(no_false_positives);
	RUN(off_and_matched_buffer);
	RUN(custom_list_replaces_builtin);
	RUN(custom_list_extends_builtin);
	RUN(bad_lines_are_reported_and_skipped);
	RUN(missing_file);
	RUN(any_bytes);
	RUN(long_prompt_timing);
	table_free();
	UNIT_DONE();
}
