/* SPDX-License-Identifier: MIT */
/*
 * The store URL parser (src/core/url.c) and what reads a URL without
 * connecting anywhere: papyra_store_url_describe(), _redact(),
 * _metrics_location(), _url_for_path(), and opening a memory:, json: or
 * rotating: store with PAPYRA_OPEN_NO_CREATE inside this process's private
 * directory, and scanning the (empty) file store. Properties: no crash and no leak; every refusal
 * comes with its code and a message; the readers agree with each other; a path written by
 * papyra_store_url_for_path() reads back as the same path; redacting twice
 * changes nothing.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <papyra/papyra.h>

#include "core/url.h"
#include "fuzz.h"

static void
check_error(const char *what, int r, const papyra_error *err, const char *url)
{
    PAPYRA_FUZZ_CHECK(r == PAPYRA_EINVAL || r == PAPYRA_EUNSUPPORTED || r == PAPYRA_ENOMEM,
                      "%s answered %d for %s", what, r, url);
    PAPYRA_FUZZ_CHECK(err->code == r, "%s answered %d, its error says %d", what, r, err->code);
    PAPYRA_FUZZ_CHECK(err->message[0] != '\0', "%s refused %s without a message", what, url);
}

/* A relative path without "..": opening it stays inside the private directory. */
static bool
contained(const char *path)
{
    const char *p = path;

    if (!path)
        return true;
    if (path[0] == '/' || path[0] == '\0')
        return false;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        p += *p == '/';
    }
    return true;
}

/* Opens (NO_CREATE) and closes the store inside the private directory. */
static void
try_open(const char *url, const papyra_url_info *info)
{
    papyra_open_options o = {.flags = PAPYRA_OPEN_NO_CREATE};
    papyra_error err = {0};
    papyra_store *s = NULL;
    int cwd, r;

    if (info->backend != PAPYRA_BACKEND_MEMORY && info->backend != PAPYRA_BACKEND_JSON &&
        info->backend != PAPYRA_BACKEND_ROTATING)
        return;
    if (!contained(info->data_path) || !contained(info->metrics_path))
        return;
    cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    PAPYRA_FUZZ_CHECK(cwd >= 0 && chdir(papyra_fuzz_tmpdir()) == 0, "cannot enter %s",
                      papyra_fuzz_tmpdir());
    r = papyra_store_open_with(&s, url, &o, &err);
    if (r < 0) {
        PAPYRA_FUZZ_CHECK(s == NULL, "a failed open set its handle");
        PAPYRA_FUZZ_CHECK(err.code == r && err.message[0] != '\0',
                          "open refused %s (%d) without a message", url, r);
    } else {
        PAPYRA_FUZZ_CHECK(s != NULL, "a successful open gave no handle");
        PAPYRA_FUZZ_CHECK(strcmp(papyra_store_backend(s), papyra_backend_name(info->backend)) == 0,
                          "opened a %s store, described a %s one: %s", papyra_store_backend(s),
                          papyra_backend_name(info->backend), url);
        /* An empty store: a scan is cheap, whatever sizes the URL gives. */
        if (info->backend != PAPYRA_BACKEND_MEMORY) {
            papyra_scan_report *rep = NULL;
            r = papyra_store_scan(s, &rep);
            PAPYRA_FUZZ_CHECK(r == 0 || papyra_store_errmsg(s)[0] != '\0',
                              "scan of %s failed (%d) without a message", url, r);
            papyra_scan_report_free(rep);
        }
        (void)papyra_store_close(s);
    }
    PAPYRA_FUZZ_CHECK(fchdir(cwd) == 0, "cannot go back to the working directory");
    close(cwd);
    papyra_fuzz_tmpdir_clear();
}

/* papyra_store_url_for_path() of a file store's path reads back as that path. */
static void
check_for_path(const papyra_url_info *info)
{
    papyra_url_info *back = NULL;
    papyra_error err = {0};
    char *url = NULL;
    int r;

    if ((info->backend != PAPYRA_BACKEND_JSON && info->backend != PAPYRA_BACKEND_ROTATING) ||
        !info->data_path || !info->data_path[0])
        return;
    r = papyra_store_url_for_path(info->backend, info->data_path, &url);
    PAPYRA_FUZZ_CHECK(r == 0, "url_for_path answered %d for %s", r, info->data_path);
    r = papyra_store_url_describe(url, &back, &err);
    PAPYRA_FUZZ_CHECK(r == 0, "url_for_path wrote %s, which does not parse: %s", url, err.message);
    PAPYRA_FUZZ_CHECK(back->backend == info->backend && back->data_path &&
                          strcmp(back->data_path, info->data_path) == 0 && back->nparams == 0,
                      "url_for_path wrote %s for path %s, which reads back as %s", url,
                      info->data_path, back->data_path ? back->data_path : "(none)");
    papyra_url_info_free(back);
    papyra_free(url);
}

static void
check_describe(const char *url, int parsed)
{
    papyra_url_info *info = NULL;
    papyra_error err = {0};
    char *mpath = NULL;
    int backend = -1;
    int r = papyra_store_url_describe(url, &info, &err);
    int m;

    if (r < 0) {
        check_error("describe", r, &err, url);
        PAPYRA_FUZZ_CHECK(info == NULL, "a failed describe set its result");
    } else {
        PAPYRA_FUZZ_CHECK(parsed == 0, "describe accepts %s, the parser refused it", url);
        PAPYRA_FUZZ_CHECK(papyra_backend_name(info->backend) && info->scheme && info->display,
                          "describe gave an incomplete answer for %s", url);
        for (size_t i = 0; i < info->nparams; i++)
            PAPYRA_FUZZ_CHECK(papyra_url_info_param(info, info->params[i].key) ==
                                  info->params[i].value,
                              "parameter %s is not found by its key", info->params[i].key);
    }
    memset(&err, 0, sizeof(err));
    m = papyra_store_metrics_location(url, &mpath, &backend, &err);
    if (m < 0) {
        check_error("metrics_location", m, &err, url);
    } else if (r == 0) {
        PAPYRA_FUZZ_CHECK(backend == info->backend,
                          "metrics_location and describe disagree on "
                          "the backend of %s",
                          url);
        PAPYRA_FUZZ_CHECK((mpath == NULL) == (info->metrics_path == NULL) &&
                              (!mpath || strcmp(mpath, info->metrics_path) == 0),
                          "metrics_location (%s) and describe (%s) disagree for %s",
                          mpath ? mpath : "none", info->metrics_path ? info->metrics_path : "none",
                          url);
    }
    if (r == 0) {
        check_for_path(info);
        try_open(url, info);
    }
    papyra_free(mpath);
    papyra_url_info_free(info);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = papyra_fuzz_strndup(data, size);
    char *shown = NULL, *again = NULL;
    papyra_error err = {0};
    papyra__url u;
    int r;

    memset(&u, 0, sizeof(u));
    r = papyra__url_parse(url, &u, &err);
    if (r < 0) {
        check_error("parse", r, &err, url);
    } else {
        for (size_t i = 0; i < u.nparams; i++)
            PAPYRA_FUZZ_CHECK(papyra__url_param(&u, u.keys[i]) == u.values[i],
                              "parameter %s is not found by its key", u.keys[i]);
        papyra__url_free(&u);
    }
    check_describe(url, r);
    r = papyra_store_url_redact(url, &shown);
    PAPYRA_FUZZ_CHECK(r == 0 && shown, "redact answered %d", r);
    r = papyra_store_url_redact(shown, &again);
    PAPYRA_FUZZ_CHECK(r == 0 && strcmp(shown, again) == 0, "redacting %s twice gives %s", shown,
                      again ? again : "(error)");
    papyra_free(shown);
    papyra_free(again);
    free(url);
    return 0;
}
