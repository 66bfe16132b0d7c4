/* SPDX-License-Identifier: GPL-2.0 */
/* The one BPF object. Every probe is compiled into this translation unit so that all share one set
 * of maps (bpf/include/maps.h) without static-linking rules; each probe stays in its own file. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "events.h"
#include "maps.h"
#include "lib/output.h"
#include "lib/credentials.h"
#include "lib/paths.h"
#include "lib/files.h"

#include "probes/exec.bpf.c"
#include "probes/fork.bpf.c"
#include "probes/exit.bpf.c"
#include "probes/open.bpf.c"
/* issue 4: mount, umount, bind, load_module, unload_module */
/* issue 4: ptrace, signal, mmap, mprotect, splice, bpf */
#include "lib/pending_args.h"
#include "probes/ptrace.bpf.c"
#include "probes/signal.bpf.c"
#include "probes/mmap.bpf.c"
#include "probes/splice.bpf.c"
#include "probes/bpf.bpf.c"

char LICENSE[] SEC("license") = "GPL";
