/* Embeds policy/default.policy, the agent's default policy, into the binary. clang records #embed'ed
 * files as dependencies, so editing the policy rebuilds this file. */
#include "embedded_policy.h"

#pragma clang diagnostic ignored "-Wc23-extensions"
static const unsigned char policy[] = {
#embed "../../policy/default.policy"
};

const unsigned char *csm_embedded_default_policy_data(void) { return policy; }
size_t csm_embedded_default_policy_size(void) { return sizeof(policy); }
