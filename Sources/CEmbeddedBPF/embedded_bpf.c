/* Embeds .build/bpf/csm.bpf.o (written by `make bpf`) into the binary so that csm-agent runs from any
 * directory. clang records #embed'ed files as dependencies, so a rebuilt object rebuilds this file. */
#include "embedded_bpf.h"

#pragma clang diagnostic ignored "-Wc23-extensions"
#if defined(__has_embed) && __has_embed("../../.build/bpf/csm.bpf.o")
const unsigned char csm_embedded_bpf_object[] = {
#embed "../../.build/bpf/csm.bpf.o"
};
const size_t csm_embedded_bpf_object_size = sizeof(csm_embedded_bpf_object);
#else
const unsigned char csm_embedded_bpf_object[1] = {0};
const size_t csm_embedded_bpf_object_size = 0;
#endif
