#ifndef CSM_EMBEDDED_POLICY_H
#define CSM_EMBEDDED_POLICY_H
#include <stddef.h>
/// policy/default.policy (YAML text, not NUL-terminated), embedded at compile time.
const unsigned char *csm_embedded_default_policy_data(void);
/// Its size in bytes.
size_t csm_embedded_default_policy_size(void);
#endif
