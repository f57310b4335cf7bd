/* SPDX-License-Identifier: MIT */
/*
 * Common definitions of libpapyra: symbol export, version and error codes.
 *
 * Every fallible function returns 0 on success or one of the negative
 * PAPYRA_E* codes below. Codes keep their meaning forever; a retired code is
 * never reused.
 */
#ifndef PAPYRA_COMMON_H
#define PAPYRA_COMMON_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PAPYRA_PUBLIC __attribute__((visibility("default")))
#else
#define PAPYRA_PUBLIC
#endif

/* PAPYRA_VERSION_MAJOR, _MINOR, _PATCH and _STRING, generated from meson.build. */
#include <papyra/version.h>

/*
 * The error map: XX(NAME, number, message). The enum, papyra_strerror() and
 * papyra_errname() are all built from this one list.
 */
#define PAPYRA_ERRNO_MAP(XX)                              \
    XX(EINVAL, 1, "invalid argument")                     \
    XX(ENOMEM, 2, "out of memory")                        \
    XX(EIO, 3, "input/output error")                      \
    XX(ENOENT, 4, "no such file or directory")            \
    XX(EEXIST, 5, "already exists")                       \
    XX(EACCES, 6, "permission denied")                    \
    XX(ENOSPC, 7, "no space left on device")              \
    XX(ECORRUPT, 8, "corrupt data")                       \
    XX(EFOREIGN, 9, "not a papyra metrics file")          \
    XX(ETRUNCATED, 10, "file is truncated")               \
    XX(EVERSION, 11, "unsupported format version")        \
    XX(EUNSUPPORTED, 12, "not supported by this backend") \
    XX(ECLOSED, 13, "handle is closed")                   \
    XX(ECONNECT, 14, "cannot connect to server")          \
    XX(EPROTO, 15, "protocol or server error")            \
    XX(EBUSY, 16, "resource is busy")                     \
    XX(ETOOBIG, 17, "value too large")                    \
    XX(ETIMEDOUT, 18, "operation timed out")              \
    XX(EANOMALY, 19, "anomalies remain")                  \
    XX(ENOTREG, 20, "not a regular file")

typedef enum papyra_errno {
    PAPYRA_OK = 0,
#define PAPYRA__ERRNO_ENUM(name, num, msg) PAPYRA_##name = -(num),
    PAPYRA_ERRNO_MAP(PAPYRA__ERRNO_ENUM)
#undef PAPYRA__ERRNO_ENUM
} papyra_errno;

/**
 * Returns a static, human-readable message for an error code.
 *
 * @param[in] err 0 or a negative PAPYRA_E* code.
 * @returns a string owned by the library; never NULL ("unknown error" for
 *          codes outside the map).
 * @since 0.1.0
 */
PAPYRA_PUBLIC const char *papyra_strerror(int err);

/**
 * Returns the symbolic name of an error code, such as "EINVAL".
 *
 * @returns a static string; "UNKNOWN" for codes outside the map.
 * @since 0.1.0
 */
PAPYRA_PUBLIC const char *papyra_errname(int err);

/**
 * Returns the library's version string, PAPYRA_VERSION_STRING of the build.
 * @since 0.1.0
 */
PAPYRA_PUBLIC const char *papyra_version(void);

/**
 * Releases a buffer that the library allocated and handed to the caller
 * (serialised metrics, formatted tables). NULL is a no-op.
 * @since 0.1.0
 */
PAPYRA_PUBLIC void papyra_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* PAPYRA_COMMON_H */
