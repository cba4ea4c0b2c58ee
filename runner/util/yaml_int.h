/* yaml_int.h - what yaml.c and yaml_block.c share. Other modules include
 * yaml.h only. */
#ifndef PRENV_YAML_INT_H
#define PRENV_YAML_INT_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* yaml__parse_block(): the text is outside the part of YAML it reads. */
#define YB_NO 1

/* The core-schema value of a plain scalar (null, bool, int, float), or NULL
 * for a string (see the top of yaml.c). */
cJSON *yaml__resolve_plain(const char *s, size_t n);

/* The fast path of yaml_parse_json_lines (see yaml_block.c): 0 and the
 * same *out and *lines libyaml's path gives, or YB_NO (and nothing) when
 * the text needs libyaml. Never sets an error. */
int yaml__parse_block(cJSON **out, int **lines, const char *text, size_t len);

#endif
