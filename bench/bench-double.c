/* SPDX-License-Identifier: MIT */
/*
 * Nanoseconds per double of the one double formatter (repr(float), what
 * json.dumps() writes) next to snprintf("%.17g") of the same values in the
 * same run (the baseline; the ratio is formatter / snprintf, below 1 when
 * the formatter is faster), on three sets of values:
 *
 * - random: random finite 64-bit patterns (mostly 16-17 digits, any exponent);
 * - timestamps: seconds since the epoch with milliseconds, as records hold;
 * - short: decimals of 1-6 digits with small exponents (0.25, 1e-05, 3120.0).
 *
 * papyra__json_write_double() (appending to a buffer) is timed too.
 *
 * Usage: bench-double [--quick]   (--quick: fewer rounds, for CI). Figures
 * are printed, never asserted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-util.h"
#include "json/json.h"
#include "util/buf.h"

#define NVALUES 4096

static double values[NVALUES];
static volatile size_t sink;

/* A small fixed-seed generator, the same values in every run. */
static uint64_t
next_random(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static void
fill(int set)
{
    uint64_t state = 0x9e3779b97f4a7c15u, bits;
    static const double scale[] = {1e-5, 1e-3, 1e-1, 1, 1e2, 1e4};
    int i;

    for (i = 0; i < NVALUES; i++) {
        switch (set) {
        case 0:
            do
                bits = next_random(&state);
            while (((bits >> 52) & 0x7ff) == 0x7ff);
            memcpy(&values[i], &bits, sizeof(bits));
            break;
        case 1:
            values[i] = 1700000000.0 + (double)(next_random(&state) % 100000000) / 1000.0;
            break;
        default:
            bits = next_random(&state);
            values[i] = (double)(bits % 1000000 >> (bits >> 20) % 16) * scale[(bits >> 24) % 6];
            break;
        }
    }
}

/* ns per value of one way of formatting, over @p rounds passes of values[]. */
static double
time_format(int how, int rounds)
{
    char text[64];
    papyra_buf b = {0};
    size_t total = 0;
    double t0 = bench_now_s();
    int r, i;

    for (r = 0; r < rounds; r++) {
        for (i = 0; i < NVALUES; i++) {
            switch (how) {
            case 0:
                total += papyra__json_format_double(values[i], text);
                break;
            case 1:
                papyra__buf_reset(&b);
                if (papyra__json_write_double(values[i], &b) == 0)
                    total += b.len;
                break;
            default:
                total += (size_t)snprintf(text, sizeof(text), "%.17g", values[i]);
                break;
            }
        }
    }
    t0 = bench_now_s() - t0;
    papyra__buf_free(&b);
    sink = total;
    return t0 * 1e9 / ((double)rounds * NVALUES);
}

int
main(int argc, char **argv)
{
    static const char *const sets[] = {"random", "timestamps", "short"};
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int rounds = quick ? 50 : 500, set;

    if (argc > 1 && !quick) {
        fprintf(stderr, "usage: bench-double [--quick]\n");
        return 2;
    }
    printf("%-12s %16s %16s %16s %8s\n", "values", "format ns/value", "write ns/value",
           "%.17g ns/value", "ratio");
    for (set = 0; set < 3; set++) {
        double fmt, wr, base;

        fill(set);
        time_format(0, 1); /* warm the caches */
        fmt = time_format(0, rounds);
        wr = time_format(1, rounds);
        base = time_format(2, rounds);
        printf("%-12s %16.1f %16.1f %16.1f %8.2f\n", sets[set], fmt, wr, base, fmt / base);
    }
    return 0;
}
