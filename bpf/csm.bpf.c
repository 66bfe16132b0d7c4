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
#include "probes/mount.bpf.c"
#include "probes/bind.bpf.c"
#include "probes/module.bpf.c"
/* issue 4: ptrace, signal, mmap, mprotect, splice, bpf */
#include "lib/pending_args.h"
#include "probes/ptrace.bpf.c"
#include "probes/signal.bpf.c"
#include "probes/mmap.bpf.c"
#include "probes/splice.bpf.c"
#include "probes/bpf.bpf.c"

/* Anchors every record type in the object's BTF (clang emits full types only for what a global holds
 * by value; through a pointer they become forward declarations), so that
 * Tests/ProbesTests/LayoutTests can compare clang's layout with Swift's. Never used; ~1 KiB of .bss. */
#define CSM_LAYOUT_ANCHOR(type) struct type csm_layout_##type __attribute__((unused))
CSM_LAYOUT_ANCHOR(csm_event_header);
CSM_LAYOUT_ANCHOR(csm_credentials);
CSM_LAYOUT_ANCHOR(csm_file);
CSM_LAYOUT_ANCHOR(csm_exec_event);
CSM_LAYOUT_ANCHOR(csm_fork_event);
CSM_LAYOUT_ANCHOR(csm_exit_event);
CSM_LAYOUT_ANCHOR(csm_open_event);

char LICENSE[] SEC("license") = "GPL";
