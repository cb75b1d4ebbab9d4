/* The output schema (sim/output.schema.json, embedded at build time) and a
 * validator for the part of JSON Schema (2020-12) it uses: type (a name or
 * a list of names), const, enum, minimum, maximum, required, minProperties,
 * maxProperties, properties, additionalProperties (false or a schema),
 * items, allOf, if and then, and $ref to a JSON pointer in the same
 * document. A keyword outside that set is an error, so the schema cannot
 * claim a check the validator does not make; annotations ($schema, $id, title,
 * description, x-unit, x-host) are read by people and by `wafersim check`. */
#ifndef WAFERSIM_SIM_JSCHEMA_H
#define WAFERSIM_SIM_JSCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The embedded output schema (a new reference; json_decref it). NULL only
 * if the embedded text does not parse, with the reason in err. */
json_t *ws_jschema_output(char *err, size_t errlen);

/* Whether doc satisfies schema (root: the document its $refs point into).
 * 0, or -1 with the first violation at its path (e.g. "run.ops[3].cycles:
 * expected integer, got string") in err. */
int ws_jschema_validate(const json_t *root, const json_t *doc, char *err, size_t errlen);

/* The schema of property `name` of the object that schema `s` describes
 * ($refs followed; additionalProperties when name is not listed); NULL if
 * the object may not have it. */
const json_t *ws_jschema_property(const json_t *root, const json_t *s, const char *name);

/* The schema at a JSON pointer ("#/$defs/totals"), NULL if none. */
const json_t *ws_jschema_at(const json_t *root, const char *pointer);

/* Whether a property's schema marks it as a figure of the host (x-host). */
bool ws_jschema_is_host(const json_t *root, const json_t *property);
/* Whether a property is marked x-cost (the simulator's own work). */
bool ws_jschema_is_cost(const json_t *root, const json_t *property);

#ifdef __cplusplus
}
#endif
#endif
