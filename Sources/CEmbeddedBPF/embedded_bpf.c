/* Embeds .build/bpf/csm.bpf.o (written by `make bpf`) into the binary so that csm-agent runs from any
 * directory. clang records #embed'ed files as dependencies, so a rebuilt object rebuilds this file. */
#include "embedded_bpf.h"

#pragma clang diagnostic ignored "-Wc23-extensions"
#if defined(__has_embed) && __has_embed("../../.build/bpf/csm.bpf.o")
static const unsigned char object[] = {
#embed "../../.build/bpf/csm.bpf.o"
};
static const size_t object_size = sizeof(object);
#else
static const unsigned char object[1] = {0};
static const size_t object_size = 0;
#endif

const unsigned char *csm_embedded_bpf_object_data(void) { return object; }
size_t csm_embedded_bpf_object_size(void) { return object_size; }
