/* SPDX-License-Identifier: GPL-2.0 */
/* Every map of the BPF object, with why it exists. */
#ifndef CSM_MAPS_H
#define CSM_MAPS_H

#include "events.h"

/* Bytes of one per-CPU record scratch buffer: the largest record plus slack so that a bounded
 * offset plus a bounded length always stays inside it (what the verifier needs to see). */
#define CSM_RECORD_SCRATCH_LEN (CSM_MAX_RECORD_LEN + 8192)
/* The per-CPU path buffer: paths are assembled backwards from offset CSM_PATH_SCRATCH_LEN down;
 * CSM_PATH_MAX bytes of slack after it let a masked offset plus a bounded length stay inside. */
#define CSM_PATH_SCRATCH_LEN (CSM_PATH_MAX * 2)
#define CSM_PATH_SCRATCH_MASK (CSM_PATH_SCRATCH_LEN - 1)
#define CSM_NAME_MAX 255

/* The one ring buffer every record goes through. Its size is set by user space before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

/* Records that could not be written (ring buffer full), per CPU and event type. User space sums
 * the CPUs and reports them as lost; nothing is dropped silently. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CSM_EVENT_TYPE_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lost_events SEC(".maps");

/* Where a record is built before bpf_ringbuf_output copies it out: records are variable-length
 * and too big for the 512-byte BPF stack. */
struct record_scratch {
	char buf[CSM_RECORD_SCRATCH_LEN];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct record_scratch);
} record_scratch SEC(".maps");

/* Where a path is assembled, last component first, before it is copied into the record. */
struct path_scratch {
	/* Walk state lives here rather than on the stack: read back from a map value it is an unknown
	 * bounded scalar to the verifier, so loop iterations look alike and are pruned, where exact
	 * stack values made it explore every iteration's every branch. */
	__u32 pos;
	__u32 components;
	char buf[CSM_PATH_SCRATCH_LEN + CSM_PATH_MAX];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_scratch);
} path_scratch SEC(".maps");

/* Arguments of an open-family syscall, saved at sys_enter and consumed at sys_exit, keyed by
 * pid_tgid. LRU so entries of threads killed mid-syscall cannot fill the map. */
struct pending_open {
	__u64 user_path;  /* const char __user * */
	__u32 flags;
	__u32 mode;
	__s32 dirfd;
	__u32 syscall;    /* enum csm_open_syscall */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pending_open);
} pending_opens SEC(".maps");

#endif /* CSM_MAPS_H */
