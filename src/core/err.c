/* err.c - text for the LG_E* codes of err.h. */
#include "core/err.h"

const char *lg_strerror(int rc)
{
    switch (rc) {
    case LG_OK: return "success";
    case LG_EINVAL: return "invalid argument";
    case LG_ENOMEM: return "out of memory";
    case LG_EFULL: return "queue or table full";
    case LG_EIO: return "i/o error";
    case LG_ENOTFOUND: return "not found";
    case LG_EEXIST: return "already exists";
    case LG_ECLOSED: return "closed";
    case LG_ETIMEDOUT: return "timed out";
    case LG_ETOOBIG: return "too big";
    case LG_EAUTH: return "authentication failed";
    case LG_EEXPIRED: return "expired";
    default: return "unknown error";
    }
}
