#ifndef CSM_EMBEDDED_BPF_H
#define CSM_EMBEDDED_BPF_H
#include <stddef.h>
/// The BPF object built by `make bpf`, embedded at compile time.
const unsigned char *csm_embedded_bpf_object_data(void);
/// Its size in bytes; 0 when the object had not been built when this binary was compiled.
size_t csm_embedded_bpf_object_size(void);
#endif
