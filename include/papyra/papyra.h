/* SPDX-License-Identifier: MIT */
/* The umbrella header of libpapyra. */
#ifndef PAPYRA_PAPYRA_H
#define PAPYRA_PAPYRA_H

#include <papyra/common.h>
#include <papyra/metrics.h>
#include <papyra/record.h>
#include <papyra/store.h>

#endif /* PAPYRA_PAPYRA_H */
