/* SPDX-License-Identifier: MIT */
/*
 * Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF;
 * and WTF-8, which adds lone surrogates.
 */
#ifndef PAPYRA_UTF8_H
#define PAPYRA_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes one UTF-8 sequence of at most n bytes. Returns its length and
 * stores the code point, or returns 0 if the bytes are not strict UTF-8.
 * With allow_surrogates, 3-byte encodings of U+D800..U+DFFF (WTF-8) pass.
 */
size_t papyra__utf8_decode(const unsigned char *p, size_t n, uint32_t *cp, bool allow_surrogates);

/*
 * The offset of the first byte where the n bytes at p stop being strict
 * UTF-8, or n when they all are. With wtf8, lone surrogates in their 3-byte
 * form pass too (WTF-8, what the JSON parser makes of a lone \udxxx escape),
 * but a high surrogate directly followed by a low one does not: that pair is
 * one code point, whose only form is 4 bytes. The JSON parser produces
 * exactly this set of strings and the JSON writer accepts exactly it.
 */
size_t papyra__utf8_invalid_at(const char *p, size_t n, bool wtf8);

/* Whether the n bytes at p are strict UTF-8. */
bool papyra__utf8_valid(const char *p, size_t n);

#endif /* PAPYRA_UTF8_H */
