/* The gateway's version, reported by `imagegw version` and the User-Agent. */
#ifndef IMAGEGW_VERSION_H
#define IMAGEGW_VERSION_H
#define IMAGEGW_VERSION_STR "0.1.0"
#endif
