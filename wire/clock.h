/*
 * The one monotonic clock of the programs: for timeouts, deadlines and
 * how long something took, never for what time it is (that is the
 * engine clock, or a time passed in).
 */
#ifndef ONECITY_CLOCK_H
#define ONECITY_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#endif
