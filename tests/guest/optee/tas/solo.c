/* solo: the counter TA as a single instance that takes one session at a time */
#define COUNTER_FLAGS TA_FLAG_SINGLE_INSTANCE
#define COUNTER_LAST 0x08
#include "counter.c"
