#ifndef CSM_EMBEDDED_BPF_H
#define CSM_EMBEDDED_BPF_H
#include <stddef.h>
/// The BPF object built by `make bpf`, embedded at compile time; size 0 when it was not built yet.
extern const unsigned char csm_embedded_bpf_object[];
extern const size_t csm_embedded_bpf_object_size;
#endif
