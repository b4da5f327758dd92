# imagegw — build, run, test.  See CONTRIBUTING.md and docs/testing.md.
#   make            build build/imagegw (release, warnings as errors)
#   make run        install what is missing, build, start lighttpd on PORT (8080)
#   make test       unit tests + integration tests (lighttpd, then Apache), all under ASan+UBSan,
#                   then browser tests
#   make browser    the web page in headless Chromium (tests/browser/, docs/testing.md)
#   make bench      benchmarks, printed as a table (docs/performance.md)
#   make deps       install the Debian packages the build, tests and run need

PORT ?= 8080
# Debian's python3 (python3-pytest lives there, not in a pyenv one on PATH).
PYTHON ?= /usr/bin/python3
CC ?= cc
BUILD := build

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wno-format-nonliteral -Werror
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g $(WARN) -Icore -I$(BUILD)
CFLAGS ?= -O2
LIBS := -lfcgi -lcurl -lsqlite3 -lz -lcrypto -lpthread -lm

SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined

CORE_SRC := $(sort $(wildcard core/*.c))
FCGI_SRC := $(sort $(wildcard fcgi/*.c))
SQL_FILES := $(sort $(wildcard sql/*.sql))
GEN_SRC := $(BUILD)/gen/sql_migrations.c $(BUILD)/gen/content_filter_list.c

REL_CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/rel/%.o) $(GEN_SRC:$(BUILD)/gen/%.c=$(BUILD)/rel/gen/%.o)
REL_FCGI_OBJ := $(FCGI_SRC:%.c=$(BUILD)/rel/%.o)
SAN_CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/san/%.o) $(GEN_SRC:$(BUILD)/gen/%.c=$(BUILD)/san/gen/%.o)
SAN_FCGI_OBJ := $(FCGI_SRC:%.c=$(BUILD)/san/%.o)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/san/unit/%)

.PHONY: all run test unit integration integration-apache bench deps install clean san fmt fmt-check \
        test-live fuzz fuzz-smoke valgrind docs loadtest browser
all: $(BUILD)/imagegw

# --- generated: the SQL migrations and the content filter list, compiled in ---
$(BUILD)/gen/sql_migrations.c: $(SQL_FILES) tests/tools/sql2c.sh
	@mkdir -p $(dir $@)
	@sh tests/tools/sql2c.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/content_filter_list.c: deploy/content-filter.txt tests/tools/list2c.sh
	@mkdir -p $(dir $@)
	@sh tests/tools/list2c.sh deploy/content-filter.txt > $@.tmp && mv $@.tmp $@

# --- release build ------------------------------------------------------------
# core/ never sees fcgi/ headers (core must not know about FastCGI).
$(BUILD)/rel/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(BASE_CFLAGS) $(HARDEN) $(CFLAGS) -c $< -o $@
$(BUILD)/rel/fcgi/%.o: fcgi/%.c $(wildcard core/*.h fcgi/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(BASE_CFLAGS) $(HARDEN) $(CFLAGS) -Ifcgi -c $< -o $@
$(BUILD)/rel/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@
$(BUILD)/rel/libcore.a: $(REL_CORE_OBJ)
	@rm -f $@ && ar rcs $@ $^
$(BUILD)/imagegw: $(REL_FCGI_OBJ) $(BUILD)/rel/libcore.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $(REL_FCGI_OBJ) $(BUILD)/rel/libcore.a $(LIBS)

# --- sanitizer build (what make test runs) ------------------------------------
$(BUILD)/san/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC san  $<"
	@$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -c $< -o $@
$(BUILD)/san/fcgi/%.o: fcgi/%.c $(wildcard core/*.h fcgi/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC san  $<"
	@$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -Ifcgi -c $< -o $@
$(BUILD)/san/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -c $< -o $@
$(BUILD)/san/libcore.a: $(SAN_CORE_OBJ)
	@rm -f $@ && ar rcs $@ $^
$(BUILD)/san/imagegw: $(SAN_FCGI_OBJ) $(BUILD)/san/libcore.a
	@echo "  LD san  $@"
	@$(CC) $(SAN_FLAGS) -o $@ $(SAN_FCGI_OBJ) $(BUILD)/san/libcore.a $(LIBS)
san: $(BUILD)/san/imagegw

# Unit tests include the module's .c (to reach static helpers) and link the rest
# of core from the archive.
$(BUILD)/san/unit/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/san/libcore.a
	@mkdir -p $(dir $@)
	@echo "  LD san  $@"
	@$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -Itests/unit -Ifcgi -o $@ $< $(BUILD)/san/libcore.a $(LIBS)

unit: $(UNIT_BIN)
	@sh tests/tools/run-unit.sh $(UNIT_BIN)

# The suite behind lighttpd, then behind Apache + mod_fcgid with the deployment
# smoke tests (nginx + spawn-fcgi, plain CGI, .htaccess), as an unprivileged user.
integration: $(BUILD)/san/imagegw $(BUILD)/imagegw
	IMAGEGW_BIN=$(CURDIR)/$(BUILD)/san/imagegw $(PYTHON) -m pytest -q tests/integration tests/mock \
		--ignore-glob='tests/integration/test_deploy_*'
	@$(MAKE) --no-print-directory integration-apache
integration-apache: $(BUILD)/san/imagegw $(BUILD)/imagegw
	IMAGEGW_SERVER=apache IMAGEGW_BIN=$(CURDIR)/$(BUILD)/san/imagegw sh tests/tools/as-test-user.sh \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# deploy/www/ in Debian's Chromium (playwright-core from npm, installed on first run).
browser: $(BUILD)/san/imagegw
	IMAGEGW_BIN=$(CURDIR)/$(BUILD)/san/imagegw PYTHON=$(PYTHON) sh tests/browser/run.sh

test: fmt-check unit fuzz-smoke integration browser

# Regenerates the key table in docs/configuration.md from core/config.c.
docs: $(BUILD)/imagegw
	@$(PYTHON) tests/tools/config_docs.py $(BUILD)/imagegw docs/configuration.md

fmt:
	clang-format -i $(CORE_SRC) $(FCGI_SRC) core/*.h fcgi/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c
fmt-check:
	@clang-format --dry-run --Werror $(CORE_SRC) $(FCGI_SRC) core/*.h fcgi/*.h \
		tests/unit/*.c tests/unit/*.h tests/fuzz/*.c && echo "fmt-check: clean"

# libFuzzer targets over the parsers that see untrusted bytes, each run for
# FUZZ_RUNS iterations from its checked-in seed corpus.
FUZZ_RUNS ?= 20000
FUZZ_FLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Icore -fsanitize=address,undefined
FUZZ_CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/fuzz/%.o) $(GEN_SRC:$(BUILD)/gen/%.c=$(BUILD)/fuzz/gen/%.o)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
# The core is compiled once with coverage hooks; each target links it.
$(BUILD)/fuzz/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC fuzz $<"
	@clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/libcore.a: $(FUZZ_CORE_OBJ)
	@rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/libcore.a
	@echo "  LD fuzz $@"
	@clang $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libcore.a $(LIBS)
fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
		name=$$(basename $$t | sed 's/^fuzz_//'); \
		mkdir -p $(BUILD)/fuzz/corpus-$$name; \
		echo "fuzz $$name: $(FUZZ_RUNS) runs"; \
		$$t -runs=$(FUZZ_RUNS) -max_len=8192 $(BUILD)/fuzz/corpus-$$name \
			tests/fuzz/corpus/$$name 2>$(BUILD)/fuzz/$$name.log || \
			{ tail -40 $(BUILD)/fuzz/$$name.log; exit 1; }; \
	done; echo "fuzz: all targets clean"
# `make test` runs every target briefly over its checked-in corpus.
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_RUNS=$(FUZZ_SMOKE_RUNS)
FUZZ_SMOKE_RUNS ?= 2000

# The integration path under valgrind: the release binary behind lighttpd.
valgrind: $(BUILD)/imagegw
	IMAGEGW_BIN=$(CURDIR)/$(BUILD)/imagegw IMAGEGW_VALGRIND=1 $(PYTHON) -m pytest -q \
		tests/integration/test_basics.py tests/integration/test_upstream_failures.py \
		tests/integration/test_files.py tests/integration/test_cache.py \
		tests/integration/test_jobs.py tests/integration/test_openai.py \
		tests/integration/test_vertex.py tests/integration/test_edits.py \
		tests/integration/test_gallery.py tests/integration/test_enhance.py \
		-k "not slow_reply_times_out and not busy and not held_back and not collapse \
		    and not public_base_url and not unwritable"
# (the deselected tests depend on wall-clock time: under valgrind, 20-50 times slower,
# a store can outwait its 1 s patience for the database and the test sees a data: URI)

# Real calls to Google (at most 2 images, 1K); never part of make test or CI.
test-live: $(BUILD)/imagegw
	IMAGEGW_BIN=$(CURDIR)/$(BUILD)/imagegw $(PYTHON) -m pytest -q -rs tests/live

$(BUILD)/bench_lookup: tests/bench/bench_lookup.c $(BUILD)/rel/libcore.a
	@echo "  LD      $@"
	@$(CC) $(BASE_CFLAGS) -O2 -o $@ $< $(BUILD)/rel/libcore.a $(LIBS)

$(BUILD)/bench_quota: tests/bench/bench_quota.c $(BUILD)/rel/libcore.a
	@echo "  LD      $@"
	@$(CC) $(BASE_CFLAGS) -O2 -o $@ $< $(BUILD)/rel/libcore.a $(LIBS)

# wrk against lighttpd + imagegw: hits, misses, a mix at 50 and 200
# connections (LOAD_SECONDS each), memory over 100 000 hits, and valgrind.
loadtest: $(BUILD)/imagegw
	IMAGEGW_BIN=$(CURDIR)/$(BUILD)/imagegw $(PYTHON) tests/bench/loadtest.py

$(BUILD)/bench_multipart: tests/bench/bench_multipart.c $(BUILD)/rel/libcore.a
	@echo "  LD      $@"
	@$(CC) $(BASE_CFLAGS) -O2 -o $@ $< $(BUILD)/rel/libcore.a $(LIBS)

$(BUILD)/bench_metrics: tests/bench/bench_metrics.c $(BUILD)/rel/libcore.a
	@echo "  LD      $@"
	@$(CC) $(BASE_CFLAGS) -O2 -o $@ $< $(BUILD)/rel/libcore.a $(LIBS)

bench: $(BUILD)/imagegw $(BUILD)/bench_lookup $(BUILD)/bench_quota $(BUILD)/bench_multipart \
		$(BUILD)/bench_metrics
	IMAGEGW_BIN=$(CURDIR)/$(BUILD)/imagegw IMAGEGW_BENCH_LOOKUP=$(CURDIR)/$(BUILD)/bench_lookup \
		IMAGEGW_BENCH_QUOTA=$(CURDIR)/$(BUILD)/bench_quota \
		IMAGEGW_BENCH_MULTIPART=$(CURDIR)/$(BUILD)/bench_multipart \
		IMAGEGW_BENCH_METRICS=$(CURDIR)/$(BUILD)/bench_metrics $(PYTHON) tests/bench/bench.py

deps:
	@sh tests/tools/deps.sh
	@sh tests/browser/setup.sh

# The first README command: install what is missing, build, start lighttpd.
run:
	@sh tests/tools/deps.sh --quick
	@$(MAKE) --no-print-directory $(BUILD)/imagegw
	@sh deploy/lighttpd/run.sh $(PORT)

# Installs the binary and the static page (PREFIX=/usr/local, DESTDIR for packaging).
PREFIX ?= /usr/local
install: $(BUILD)/imagegw
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/imagegw/www \
		$(DESTDIR)$(PREFIX)/share/imagegw/deploy
	install -m 0755 $(BUILD)/imagegw $(DESTDIR)$(PREFIX)/bin/imagegw
	cp -R deploy/www/. $(DESTDIR)$(PREFIX)/share/imagegw/www/
	cp -R deploy/lighttpd deploy/apache deploy/nginx deploy/imagegw.conf.example \
		deploy/content-filter.txt deploy/expect-lines.sh $(DESTDIR)$(PREFIX)/share/imagegw/deploy/

clean:
	rm -rf $(BUILD)
