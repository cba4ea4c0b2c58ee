/* fs.h - small file-system helpers (one copy of each). */
#ifndef PRENV_FS_H
#define PRENV_FS_H

/* Removes path and everything under it without following links. A path
 * that does not exist is success. Returns 0 or -1 with errno set. */
int fs_rm_tree(const char *path);

/* Creates path and its missing parents (mode 0755). Returns 0 or -1 with
 * errno set. */
int fs_mkdir_p(const char *path);

/* Milliseconds of a monotonic clock (for deadlines and durations). */
double fs_now_ms(void);

#endif
