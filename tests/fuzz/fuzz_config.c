/* libFuzzer target for the config file parser (core/config.c): any file
 * text gives 0 or -1 with reasons, never a crash, an overflow or a leak, and
 * the configuration stays freeable. */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int env_set;
	if (!env_set) {
		setenv("IMAGEGW_CONFIG", "/dev/null", 1);
		env_set = 1;
	}
	struct config cfg;
	struct buf errs = BUF_INIT, warns = BUF_INIT;
	config_load(&cfg, &errs, &warns);
	config_parse_text(&cfg, (const char *)data, size, "fuzz", &errs, &warns);
	config_provider_rank(&cfg, NULL);
	config_free(&cfg);
	buf_free(&errs);
	buf_free(&warns);
	return 0;
}
