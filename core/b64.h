/* Standard base64 (RFC 4648 section 4, with padding): encoding for data URLs
 * and JSON replies, strict decoding of upstream b64_json / client uploads. */
#ifndef IMAGEGW_B64_H
#define IMAGEGW_B64_H
#include <stddef.h>

#include "buf.h"

/* Appends the padded base64 encoding of data[0..n) to out (one grow). */
void b64_encode(struct buf *out, const void *data, size_t n);
/* Appends the bytes that s[0..n) decodes to.  Space, tab, CR and LF are skipped and
 * missing padding is accepted; returns 0, or -1 on an invalid character, bad
 * padding or impossible length, leaving out at its original length. */
int b64_decode(struct buf *out, const char *s, size_t n);
/* 1 when s[0..n) is padded base64 with no whitespace, so it can be copied
 * into a JSON string or a data: URL as it is; else 0. */
int b64_is_canonical(const char *s, size_t n);
/* An upper bound on the bytes b64_decode can produce from n input chars. */
size_t b64_decoded_len(const char *s, size_t n);

#endif
