/* SPDX-License-Identifier: MIT */
/* The library-wide public helpers: error names and messages, the version, papyra_free(). */
#include <stdlib.h>

#include <papyra/common.h>

const char *
papyra_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define PAPYRA__ERRNO_MSG(name, num, msg) \
    case -(num):                          \
        return msg;
        PAPYRA_ERRNO_MAP(PAPYRA__ERRNO_MSG)
#undef PAPYRA__ERRNO_MSG
    default:
        return "unknown error";
    }
}

const char *
papyra_errname(int err)
{
    switch (err) {
    case 0:
        return "OK";
#define PAPYRA__ERRNO_NAME(name, num, msg) \
    case -(num):                           \
        return #name;
        PAPYRA_ERRNO_MAP(PAPYRA__ERRNO_NAME)
#undef PAPYRA__ERRNO_NAME
    default:
        return "UNKNOWN";
    }
}

const char *
papyra_version(void)
{
    return PAPYRA_VERSION_STRING;
}

void
papyra_free(void *p)
{
    free(p);
}
