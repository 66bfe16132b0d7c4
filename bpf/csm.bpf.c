/* SPDX-License-Identifier: GPL-2.0 */
/* The one BPF object: every probe is compiled into this translation unit so maps are shared. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
