/* The content filter: the list is folded into token sequences once per
 * process and indexed by a hash of each entry's last token; a prompt is folded
 * by the same scanner in one pass, and each word it yields is tried against
 * the entries ending in that word.  No recursion, no allocation per check. */
#include "filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "xalloc.h"

/* deploy/content-filter.txt, compiled in by tests/tools/list2c.sh. */
extern const char content_filter_default[];

#define TOK_MAX	   64	     /* bytes of a folded word, NUL included; longer never match */
#define PHRASE_MAX 12	     /* words in one entry */
#define NSPELL	   12	     /* spellings a prompt word is tried as */
#define FILE_MAX   (1 << 20) /* a list file larger than this is refused */

/* ---- the table ------------------------------------------------------------ */

struct entry {
	char *text;  /* the line as listed: what matched reports */
	char *words; /* the folded words, each NUL-terminated, in order */
	unsigned short off[PHRASE_MAX];
	unsigned char len[PHRASE_MAX];
	int nword;
	int next; /* the next entry with the same last-word hash, or -1 */
};

struct slot {
	uint64_t hash; /* of an entry's last word */
	int head;      /* first entry in the chain, -1: empty slot */
};

static struct {
	int loaded;
	int status;	 /* what filter_load returned */
	char *source;	 /* the file loaded, "" for the built-in list */
	struct buf errs; /* the reasons behind status -1, repeated on each call */
	struct entry *e;
	int n, cap;
	struct slot *slot;
	size_t nslot;	 /* a power of two */
	size_t word_max; /* bytes of the longest one-word entry */
	/* (first byte, last byte) of every one-word entry: a cheap test that
	 * rules out most spelled-out runs before they are spelled (run_check) */
	unsigned char pair[256 * 256 / 8];
} tab;

static void pair_set(unsigned char f, unsigned char l)
{
	unsigned k = (unsigned)f << 8 | l;

	tab.pair[k >> 3] |= (unsigned char)(1u << (k & 7));
}

static int pair_has(char f, char l)
{
	unsigned k = (unsigned)(unsigned char)f << 8 | (unsigned char)l;

	return tab.pair[k >> 3] >> (k & 7) & 1;
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void table_free(void)
{
	for (int i = 0; i < tab.n; i++) {
		free(tab.e[i].text);
		free(tab.e[i].words);
	}
	free(tab.e);
	free(tab.slot);
	free(tab.source);
	buf_free(&tab.errs);
	memset(&tab, 0, sizeof tab);
}

/* The first entry whose last word hashes to h, or -1. */
static int table_find(uint64_t h)
{
	if (!tab.nslot)
		return -1;
	for (size_t i = h & (tab.nslot - 1);; i = (i + 1) & (tab.nslot - 1)) {
		if (tab.slot[i].head < 0)
			return -1;
		if (tab.slot[i].hash == h)
			return tab.slot[i].head;
	}
}

/* Builds the hash index over every entry (at most half the slots filled). */
static void table_index(void)
{
	tab.nslot = 16;
	while (tab.nslot < (size_t)tab.n * 2)
		tab.nslot *= 2;
	tab.slot = xcalloc(tab.nslot, sizeof *tab.slot);
	for (size_t i = 0; i < tab.nslot; i++)
		tab.slot[i].head = -1;
	/* Backwards, so that each chain lists entries in file order. */
	for (int k = tab.n - 1; k >= 0; k--) {
		struct entry *e = &tab.e[k];
		int last = e->nword - 1;
		uint64_t h = fnv1a(e->words + e->off[last], e->len[last]);
		size_t i = h & (tab.nslot - 1);

		while (tab.slot[i].head >= 0 && tab.slot[i].hash != h)
			i = (i + 1) & (tab.nslot - 1);
		e->next = tab.slot[i].head;
		tab.slot[i].hash = h;
		tab.slot[i].head = k;
		if (e->nword == 1) {
			if (e->len[0] > tab.word_max)
				tab.word_max = e->len[0];
			pair_set((unsigned char)e->words[0],
				 (unsigned char)e->words[e->len[0] - 1]);
		}
	}
}

/* ---- folding one code point ----------------------------------------------- */

enum cls {
	C_SEP,	  /* ends a word */
	C_GAP,	  /* ends a word, but may sit inside a spelled-out one: space . - _ * */
	C_SKIP,	  /* invisible: zero-width, soft hyphen, combining accents */
	C_LETTER, /* out[] holds its folded bytes */
	C_DIGIT,  /* a digit or @ $ !: out[0]; leetspeak decides later */
	C_SOLO,	  /* a CJK character: a word on its own */
};

/* U+00C0..U+017F folded to a-z; ' ' is a separator (U+00D7, U+00F7) and
 * the capitals stand for two letters: A ae, T th, S ss, I ij, O oe. */
static const char latin_fold[] = "aaaaaaAceeeeiiiidnooooo ouuuuyTS"
				 "aaaaaaAceeeeiiiidnooooo ouuuuyTy"
				 "aaaaaaccccccccddddeeeeeeeeeegggg"
				 "gggghhhhiiiiiiiiiiIIjjkkklllllll"
				 "lllnnnnnnnnnooooooOOrrrrrrssssss"
				 "ssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

static int in(uint32_t cp, uint32_t lo, uint32_t hi)
{
	return cp >= lo && cp <= hi;
}

static size_t utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

#define CP_BAD 0xFFFFFFFFu

/* Decodes one code point (strict: no overlongs, surrogates or values past
 * U+10FFFF); an invalid byte is CP_BAD and consumes one byte. */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned c = p[0];
	size_t len;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		*cp = CP_BAD;
		return 1;
	}
	if (len > n) {
		*cp = CP_BAD;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*cp = CP_BAD;
			return 1;
		}
		v = v << 6 | (p[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || in(v, 0xD800, 0xDFFF)) {
		*cp = CP_BAD;
		return 1;
	}
	*cp = v;
	return len;
}

/* What one code point is; letters are folded into out (at most 4 bytes). */
static enum cls classify(uint32_t cp, char *out, size_t *outlen)
{
	*outlen = 1;
	if (in(cp, 0xFF01, 0xFF5E)) /* fullwidth ASCII */
		cp -= 0xFEE0;
	if (cp < 0x80) {
		int c = (int)cp;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		out[0] = (char)c;
		if (c >= 'a' && c <= 'z')
			return C_LETTER;
		if ((c >= '0' && c <= '9') || c == '@' || c == '$' || c == '!')
			return C_DIGIT;
		if (c == ' ' || c == '\t' || c == '.' || c == '-' || c == '_' || c == '*')
			return C_GAP;
		return C_SEP;
	}
	if (cp == CP_BAD || cp < 0xA0)
		return C_SEP;
	if (cp == 0xAD)
		return C_SKIP;
	if (cp == 0xA0)
		return C_GAP;
	if (cp < 0xC0)
		return C_SEP;
	if (cp < 0x180) {
		char f = latin_fold[cp - 0xC0];
		const char *two = NULL;
		switch (f) {
		case ' ': return C_SEP;
		case 'A': two = "ae"; break;
		case 'T': two = "th"; break;
		case 'S': two = "ss"; break;
		case 'I': two = "ij"; break;
		case 'O': two = "oe"; break;
		default: out[0] = f; break;
		}
		if (two) {
			memcpy(out, two, 2);
			*outlen = 2;
		}
		return C_LETTER;
	}
	if (in(cp, 0x300, 0x36F) || in(cp, 0x1AB0, 0x1AFF) || in(cp, 0x1DC0, 0x1DFF) ||
	    in(cp, 0x20D0, 0x20FF) || in(cp, 0xFE20, 0xFE2F) || in(cp, 0x200B, 0x200F) ||
	    in(cp, 0x202A, 0x202E) || in(cp, 0x2060, 0x206F) || in(cp, 0xFE00, 0xFE0F) ||
	    cp == 0xFEFF || in(cp, 0xE0000, 0xE0FFF))
		return C_SKIP;
	if (in(cp, 0x2000, 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000)
		return C_GAP;
	if (in(cp, 0x2E80, 0x2FDF) || in(cp, 0x3040, 0x31FF) || in(cp, 0x3400, 0x4DBF) ||
	    in(cp, 0x4E00, 0xA4CF) || in(cp, 0xAC00, 0xD7AF) || in(cp, 0xF900, 0xFAFF) ||
	    in(cp, 0xFF65, 0xFF9F) || in(cp, 0x20000, 0x3FFFF)) {
		*outlen = utf8_put(cp, out);
		return C_SOLO;
	}
	if (in(cp, 0x2B0, 0x2FF) || in(cp, 0x2010, 0x2BFF) || in(cp, 0x2E00, 0x2E7F) ||
	    in(cp, 0x3000, 0x303F) || in(cp, 0x3200, 0x33FF) || in(cp, 0xD800, 0xF8FF) ||
	    in(cp, 0xFE10, 0xFE1F) || in(cp, 0xFE30, 0xFE6F) || in(cp, 0xFF00, 0xFFEF) ||
	    in(cp, 0xFFF0, 0xFFFF) || in(cp, 0x1F000, 0x1FBFF) || cp >= 0xF0000)
		return C_SEP;
	/* Any other letter (Greek, Cyrillic, ...): kept as itself, simple
	 * capitals lowered, so it joins a word but never equals a Latin one. */
	if (in(cp, 0x391, 0x3A9) || in(cp, 0x410, 0x42F))
		cp += 0x20;
	else if (in(cp, 0x400, 0x40F))
		cp += 0x50;
	*outlen = utf8_put(cp, out);
	return C_LETTER;
}

/* ---- words and their spellings -------------------------------------------- */

struct word {
	char s[TOK_MAX]; /* folded, before leetspeak */
	size_t len;
	int over;    /* did not fit: never matches */
	int cps;     /* code points in it */
	int letters; /* letters among them: leetspeak only applies when > 0 */
	int solo;
};

struct spell {
	int n;
	unsigned char len[NSPELL];
	uint64_t hash[NSPELL];
	char s[NSPELL][TOK_MAX];
};

static void word_put(struct word *w, const char *p, size_t n)
{
	if (w->over || w->len + n >= TOK_MAX) {
		w->over = 1;
		return;
	}
	memcpy(w->s + w->len, p, n);
	w->len += n;
}

static void spell_add(struct spell *sp, const char *s, size_t n)
{
	if (sp->n == NSPELL)
		return;
	for (int i = 0; i < sp->n; i++)
		if (sp->len[i] == n && memcmp(sp->s[i], s, n) == 0)
			return;
	memcpy(sp->s[sp->n], s, n);
	sp->len[sp->n] = (unsigned char)n;
	sp->hash[sp->n] = fnv1a(s, n);
	sp->n++;
}

/* Runs of three or more of one letter cut to `keep` ("pooorn" -> "porn"). */
static size_t squeeze(const char *s, size_t n, int keep, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		size_t r = 1, k;
		while (i + r < n && s[i + r] == s[i])
			r++;
		k = r >= 3 && s[i] >= 'a' && s[i] <= 'z' ? (size_t)keep : r;
		memset(out + o, s[i], k);
		o += k;
		i += r;
	}
	return o;
}

static int has_run3(const char *s, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++)
		if (s[i] >= 'a' && s[i] <= 'z' && s[i + 1] == s[i] && s[i + 2] == s[i])
			return 1;
	return 0;
}

/* The letter a digit or symbol stands for inside a word (1: i; the caller
 * tries l too); any other byte is itself. */
static char leet_of(char c)
{
	switch (c) {
	case '0': return 'o';
	case '1': return 'i';
	case '3': return 'e';
	case '4': return 'a';
	case '5': return 's';
	case '7': return 't';
	case '8': return 'b';
	case '@': return 'a';
	case '$': return 's';
	case '!': return 'i';
	default: return c;
	}
}

/* Every spelling a prompt word is tried as: leetspeak (1 as i, and as l when
 * there is a 1), each with runs of 3+ letters cut to 1 and to 2, each of those
 * without a plural s.  The first is the canonical form entries are stored in. */
static void spell_make(const struct word *w, struct spell *sp)
{
	char t[TOK_MAX] = {0};

	sp->n = 0;
	if (w->over || w->len == 0)
		return;
	if (!w->letters) {
		spell_add(sp, w->s, w->len); /* a number stays a number */
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && !memchr(w->s, '1', w->len))
			break;
		for (size_t i = 0; i < w->len; i++)
			t[i] = pass == 1 && w->s[i] == '1' ? 'l' : leet_of(w->s[i]);
		spell_add(sp, t, w->len);
	}
	for (int i = 0, base = sp->n; i < base; i++) {
		if (!has_run3(sp->s[i], sp->len[i]))
			continue;
		spell_add(sp, t, squeeze(sp->s[i], sp->len[i], 1, t));
		spell_add(sp, t, squeeze(sp->s[i], sp->len[i], 2, t));
	}
	for (int i = 0, base = sp->n; i < base; i++) {
		size_t n = sp->len[i];
		if (n >= 4 && sp->s[i][n - 1] == 's' && sp->s[i][n - 2] != 's')
			spell_add(sp, sp->s[i], n - 1);
	}
}

static int spell_has(const struct spell *sp, const char *s, size_t n)
{
	for (int i = 0; i < sp->n; i++)
		if (sp->len[i] == n && memcmp(sp->s[i], s, n) == 0)
			return 1;
	return 0;
}

/* ---- the scanner ------------------------------------------------------------ */

struct scan {
	struct word cur; /* the word being read */
	int gap_n;	 /* separators since the last word */
	int gap_join;	 /* all of them C_GAP: a spelled-out word may go on */

	/* The current run of one-character words ("s e x", "s.e.x"). */
	struct word run; /* joined */
	int run_n;
	char run_c[TOK_MAX][4]; /* the last TOK_MAX of them, a ring */
	unsigned char run_clen[TOK_MAX], run_cletter[TOK_MAX];

	int entry_mode; /* folding a list line, not checking a prompt */
	/* entry mode: the canonical words of the line */
	char ent[PHRASE_MAX][TOK_MAX];
	unsigned char ent_len[PHRASE_MAX];
	int ent_n;
	const char *ent_err;
	/* check mode: the spellings of the last PHRASE_MAX words, a ring */
	struct spell ring[PHRASE_MAX];
	long nword;
	int hit; /* the entry found, or -1 */
};

/* The entry that ends with one of sp's spellings and whose earlier words are
 * the words before it (ring holds nword words before this one); -1 if none.
 * Longer entries win ("how to kill myself" over "kill myself"). */
static int match_at(const struct scan *sc, const struct spell *sp, int words_only)
{
	int best = -1;

	for (int v = 0; v < sp->n; v++) {
		for (int k = table_find(sp->hash[v]); k >= 0; k = tab.e[k].next) {
			const struct entry *e = &tab.e[k];
			int last = e->nword - 1, ok;

			if (e->len[last] != sp->len[v] ||
			    memcmp(e->words + e->off[last], sp->s[v], sp->len[v]) != 0)
				continue;
			if (words_only && e->nword > 1)
				continue;
			if (e->nword - 1 > sc->nword ||
			    (best >= 0 && tab.e[best].nword >= e->nword))
				continue;
			ok = 1;
			for (int j = 1; j < e->nword && ok; j++) {
				const struct spell *prev = &sc->ring[(sc->nword - j) % PHRASE_MAX];
				ok = spell_has(prev, e->words + e->off[last - j], e->len[last - j]);
			}
			if (ok)
				best = k;
		}
	}
	return best;
}

/* A finished word: stored (entry mode) or matched (check mode). */
static void emit(struct scan *sc, const struct word *w)
{
	if (sc->entry_mode) {
		struct spell sp;
		spell_make(w, &sp);
		if (w->over)
			sc->ent_err = "a word longer than 63 bytes";
		else if (sc->ent_n == PHRASE_MAX)
			sc->ent_err = "more than 12 words";
		else if (sp.n) {
			memcpy(sc->ent[sc->ent_n], sp.s[0], sp.len[0]);
			sc->ent_len[sc->ent_n++] = sp.len[0];
		}
		return;
	}
	if (sc->hit >= 0)
		return;
	struct spell *sp = &sc->ring[sc->nword % PHRASE_MAX];
	spell_make(w, sp);
	sc->hit = match_at(sc, sp, 0);
	sc->nword++;
}

/* Whether some spelling of s (spell_make's) could be a one-word entry, judged
 * by its first and last letters alone: leetspeak (1 as i or l), and the last
 * letter before a plural s.  Stretching never changes either letter. */
static int pair_may(const char *s, size_t n, int letters)
{
	char f[2], l[4];
	size_t k = n;

	if (!letters)
		return pair_has(s[0], s[n - 1]);
	f[0] = leet_of(s[0]);
	f[1] = s[0] == '1' ? 'l' : f[0];
	l[0] = leet_of(s[n - 1]);
	l[1] = s[n - 1] == '1' ? 'l' : l[0];
	while (k > 1 && leet_of(s[k - 1]) == 's')
		k--;
	l[2] = leet_of(s[k - 1]);
	l[3] = s[k - 1] == '1' ? 'l' : l[2];
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 4; j++)
			if (pair_has(f[i], l[j]))
				return 1;
	return 0;
}

/* After a new one-character word in a run: the one-word entries spelled out
 * by the last 2..word_max of them ("a s e x" holds "sex"). */
static void run_check(struct scan *sc)
{
	size_t max = (size_t)sc->run_n < tab.word_max ? (size_t)sc->run_n : tab.word_max;
	size_t off[TOK_MAX], n = 0;
	char lin[TOK_MAX * 4];
	int letters = 0;
	struct word w;
	struct spell sp;

	/* The last max of them in order, then each suffix of two or more. */
	for (size_t m = max; m >= 1; m--) {
		int i = (sc->run_n - (int)m) % TOK_MAX;
		off[max - m] = n;
		memcpy(lin + n, sc->run_c[i], sc->run_clen[i]);
		n += sc->run_clen[i];
	}
	for (size_t j = max; j-- > 0 && sc->hit < 0;) {
		size_t len = n - off[j];
		letters += sc->run_cletter[(sc->run_n - (int)(max - j)) % TOK_MAX];
		if (j + 1 == max)
			continue;
		if (len >= TOK_MAX)
			break;
		if (!pair_may(lin + off[j], len, letters))
			continue;
		memset(&w, 0, sizeof w);
		memcpy(w.s, lin + off[j], len);
		w.len = len;
		w.cps = (int)(max - j);
		w.letters = letters;
		spell_make(&w, &sp);
		sc->hit = match_at(sc, &sp, 1);
	}
}

static void run_flush(struct scan *sc)
{
	if (!sc->run_n)
		return;
	emit(sc, &sc->run);
	memset(&sc->run, 0, sizeof sc->run);
	sc->run_n = 0;
}

static void run_add(struct scan *sc, const struct word *w)
{
	int i = sc->run_n % TOK_MAX;

	word_put(&sc->run, w->s, w->len);
	sc->run.cps++;
	sc->run.letters += w->letters;
	memcpy(sc->run_c[i], w->s, w->len);
	sc->run_clen[i] = (unsigned char)w->len;
	sc->run_cletter[i] = (unsigned char)(w->letters > 0);
	sc->run_n++;
	if (!sc->entry_mode && sc->run_n >= 2)
		run_check(sc);
}

/* A word is complete: one-character words separated by one or two gap
 * characters are joined; anything else is emitted as it is. */
static void word_done(struct scan *sc, const struct word *w)
{
	int single = w->cps == 1 && !w->solo;

	if (single && sc->run_n && sc->gap_n >= 1 && sc->gap_n <= 2 && sc->gap_join) {
		run_add(sc, w);
	} else {
		run_flush(sc);
		if (single)
			run_add(sc, w);
		else
			emit(sc, w);
	}
	sc->gap_n = 0;
	sc->gap_join = 1;
}

/* Ends the word being read.  A leading or trailing ! is punctuation ("porn!",
 * "!!wow"), not leetspeak; inside a word it is an i ("b!tch"). */
static void word_end(struct scan *sc)
{
	struct word *w = &sc->cur;

	if (w->cps == 0)
		return;
	if (!w->over) {
		size_t a = 0, z = w->len;
		while (a < z && w->s[a] == '!')
			a++;
		while (z > a && w->s[z - 1] == '!')
			z--;
		w->cps -= (int)(a + (w->len - z));
		if (a)
			memmove(w->s, w->s + a, z - a);
		w->len = z - a;
	}
	if (w->len == 0) {
		sc->gap_n++;
		sc->gap_join = 0;
	} else {
		word_done(sc, w);
	}
	w->len = 0;
	w->over = w->cps = w->letters = w->solo = 0;
}

static void scan_run(struct scan *sc, const char *text, size_t n)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;

	sc->gap_join = 1;
	sc->hit = -1;
	while (i < n && sc->hit < 0) {
		uint32_t cp;
		char out[4];
		size_t outlen;

		i += utf8_next(p + i, n - i, &cp);
		switch (classify(cp, out, &outlen)) {
		case C_SKIP: break;
		case C_LETTER:
			word_put(&sc->cur, out, outlen);
			sc->cur.cps++;
			sc->cur.letters++;
			break;
		case C_DIGIT:
			word_put(&sc->cur, out, 1);
			sc->cur.cps++;
			break;
		case C_SOLO: {
			struct word w;
			word_end(sc);
			memset(&w, 0, sizeof w);
			word_put(&w, out, outlen);
			w.cps = w.letters = w.solo = 1;
			word_done(sc, &w);
			break;
		}
		case C_GAP:
			word_end(sc);
			sc->gap_n++;
			break;
		case C_SEP:
			word_end(sc);
			sc->gap_n++;
			sc->gap_join = 0;
			break;
		}
	}
	word_end(sc);
	run_flush(sc);
}

/* ---- loading ------------------------------------------------------------------ */

/* Folds one list line into a new entry; NULL, or why it cannot be used. */
static const char *entry_add(const char *line, size_t n)
{
	struct scan sc;
	struct entry *e;
	size_t total = 0;

	memset(&sc, 0, sizeof sc);
	sc.entry_mode = 1;
	scan_run(&sc, line, n);
	if (sc.ent_err)
		return sc.ent_err;
	if (!sc.ent_n)
		return "no word in it";
	if (tab.n == tab.cap) {
		tab.cap = tab.cap ? tab.cap * 2 : 256;
		tab.e = xrealloc(tab.e, (size_t)tab.cap * sizeof *tab.e);
	}
	e = &tab.e[tab.n++];
	memset(e, 0, sizeof *e);
	for (int i = 0; i < sc.ent_n; i++)
		total += sc.ent_len[i] + 1u;
	e->words = xmalloc(total);
	total = 0;
	for (int i = 0; i < sc.ent_n; i++) {
		e->off[i] = (unsigned short)total;
		e->len[i] = sc.ent_len[i];
		memcpy(e->words + total, sc.ent[i], sc.ent_len[i]);
		e->words[total + sc.ent_len[i]] = '\0';
		total += sc.ent_len[i] + 1u;
	}
	e->nword = sc.ent_n;
	e->text = xstrndup(line, n);
	return NULL;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Adds every entry of a list text.  A line "@builtin" sets *builtin (only
 * where builtin is not NULL: in a file).  Returns 0, or -1 when some line was
 * skipped (the reasons go to errs). */
static int list_parse(const char *text, size_t len, const char *name, int *builtin,
		      struct buf *errs)
{
	const char *p = text, *end = text + len;
	int rc = 0, lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *a = p, *z = nl ? nl : end, *why;

		lineno++;
		p = nl ? nl + 1 : end;
		while (a < z && is_space(*a))
			a++;
		while (z > a && is_space(z[-1]))
			z--;
		if (a == z || *a == '#')
			continue;
		if (*a == '@' && builtin && z - a == 8 && memcmp(a, "@builtin", 8) == 0) {
			*builtin = 1;
			continue;
		}
		why = *a == '@' ? "unknown directive (only @builtin is known)"
				: entry_add(a, (size_t)(z - a));
		if (why) {
			buf_printf(errs, "%s: line %d: '%.*s': %s\n", name, lineno,
				   (int)(z - a > 60 ? 60 : z - a), a, why);
			rc = -1;
		}
	}
	return rc;
}

static int list_read(const char *path, struct buf *out, struct buf *errs)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;
	int rc = 0;

	if (!f) {
		buf_printf(errs, "content_filter_file %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (out->len + n > FILE_MAX) {
			buf_printf(errs, "content_filter_file %s: larger than %d bytes\n", path,
				   FILE_MAX);
			rc = -1;
			break;
		}
		buf_append(out, chunk, n);
	}
	if (rc == 0 && ferror(f)) {
		buf_printf(errs, "content_filter_file %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	fclose(f);
	return rc;
}

int filter_load(const struct config *cfg, struct buf *errs)
{
	const char *path = cfg && cfg->content_filter_file ? cfg->content_filter_file : "";
	struct buf file = BUF_INIT;
	int rc = 0, builtin = 0;

	if (tab.loaded && strcmp(tab.source, path) == 0)
		goto out;
	table_free();
	tab.loaded = 1;
	tab.source = xstrdup(path);
	if (!*path) {
		builtin = 1;
	} else if (list_read(path, &file, &tab.errs) != 0) {
		buf_printf(&tab.errs, "content filter: using the built-in list instead\n");
		rc = -1;
		builtin = 1;
	} else {
		rc = list_parse(buf_cstr(&file), file.len, path, &builtin, &tab.errs);
	}
	if (builtin && list_parse(content_filter_default, strlen(content_filter_default),
				  "built-in content filter list", NULL, &tab.errs) != 0)
		rc = -1;
	table_index();
	tab.status = rc;
	buf_free(&file);
out:
	if (errs && tab.errs.len)
		buf_append(errs, tab.errs.data, tab.errs.len);
	return tab.status;
}

int filter_check(const struct config *cfg, const char *text, char *matched, size_t matched_len)
{
	const char *path = cfg && cfg->content_filter_file ? cfg->content_filter_file : "";
	struct scan sc;

	if (matched && matched_len)
		matched[0] = '\0';
	if (!text || (cfg && cfg->content_filter && strcasecmp(cfg->content_filter, "off") == 0))
		return 0;
	if ((!tab.loaded || strcmp(tab.source, path) != 0) && filter_load(cfg, NULL) != 0)
		log_msg(LOG_ERROR, "content filter: %.*s",
			(int)(tab.errs.len ? tab.errs.len - 1 : 0), buf_cstr(&tab.errs));
	memset(&sc, 0, sizeof sc);
	scan_run(&sc, text, strlen(text));
	if (sc.hit < 0)
		return 0;
	if (matched && matched_len)
		snprintf(matched, matched_len, "%s", tab.e[sc.hit].text);
	return 1;
}
