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

/* Arguments of an open-family syscall, saved at sys_enter and consumed at sys_exit. Task-local
 * storage: a task runs one syscall at a time, the kernel frees the slot with the task (no leak from a
 * task killed mid-syscall), and it costs a fraction of a hash map update on this hot path. */
struct pending_open {
	__u64 user_path;  /* const char __user * */
	__u32 flags;
	__u32 mode;
	__s32 dirfd;
	__u32 syscall;    /* enum csm_open_syscall */
	__u32 in_flight;  /* set at sys_enter, cleared at sys_exit */
	__u32 _pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending_open);
} pending_opens SEC(".maps");

/* issue 4 (ptrace, signal, mmap, mprotect, splice): arguments of these syscalls saved at sys_enter
 * and consumed at sys_exit, keyed by pid_tgid. One map serves the five hooks (a thread is in one
 * syscall at a time; `kind` says whose entry it is). LRU so entries of tasks killed mid-syscall cannot fill the map. */
struct pm_pending {
	__u32 kind;       /* CSM_EVENT_* of the syscall that saved it */
	__u32 aux;        /* per hook: syscall variant, pm flags */
	__u64 args[6];
	__u64 extra[3];   /* per hook: VMA bounds and protection (mprotect), pipe entry flag (splice) */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pm_pending);
} pm_pending SEC(".maps");

/* issue 4 (bpf): what bpf(2) was asked at sys_enter (attr fields, helper bitmap), keyed by pid_tgid. */
struct bpf_pending {
	__u32 cmd;
	__u32 pm_flags;
	__u32 map_type;
	__u32 prog_type;
	__u32 attach_type;
	__u32 insn_cnt;
	char map_name[CSM_BPF_OBJ_NAME_LEN];
	char prog_name[CSM_BPF_OBJ_NAME_LEN];
	__u64 helpers[CSM_BPF_HELPER_BITMAP_WORDS];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct bpf_pending);
} bpf_pending SEC(".maps");

/* issue 4 (bpf): state of the helper-call scan of BPF_PROG_LOAD instructions (bpf_loop callback
 * state lives here, not on the stack), with one chunk of instructions copied from user memory. */
#define CSM_BPF_SCAN_CHUNK 64
struct bpf_insn_scan {
	__u64 insns;      /* const struct bpf_insn __user * */
	__u32 insn_cnt;   /* instructions to scan (already bounded) */
	__u32 failed;
	__u64 helpers[CSM_BPF_HELPER_BITMAP_WORDS];
	/* One chunk, then as much slack: a length masked with (2 * chunk bytes - 1) stays inside. */
	__u64 chunk[2 * CSM_BPF_SCAN_CHUNK];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_insn_scan);
} bpf_insn_scan SEC(".maps");

/* issue 4 (mount, umount): arguments of mount(2), move_mount(2) and umount2(2) saved at sys_enter,
 * keyed by pid_tgid, with the newest mount id of the caller's namespace at that time (mount(2):
 * a newer one at sys_exit is the mount the call made). LRU so entries of tasks killed mid-syscall cannot fill the map. */
struct mount_pending {
	__u32 syscall;    /* CSM_EVENT_MOUNT: enum csm_mount_syscall; CSM_EVENT_UMOUNT: unused */
	__u32 kind;       /* CSM_EVENT_MOUNT or CSM_EVENT_UMOUNT */
	__u64 args[5];
	__u64 last_unique_id; /* mnt_id_unique of the namespace's newest mount at sys_enter */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct mount_pending);
} mount_pending SEC(".maps");

/* issue 4 (bind): fd, sockaddr pointer and addrlen of bind(2), saved at sys_enter by pid_tgid. */
struct bind_pending {
	__u64 args[3];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct bind_pending);
} bind_pending SEC(".maps");

/* issue 4 (load_module, unload_module): what is known of a module syscall before its exit, by
 * pid_tgid: the arguments (per-syscall tracepoints, where the kernel has them) and the name of the
 * struct module the kernel loaded (module/module_load tracepoint, where it exists). */
struct module_pending {
	__u64 args[3];
	__u32 nr;         /* syscall number; 0 when only the name is known */
	__u32 has_name;
	char name[CSM_MODULE_NAME_LEN];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct module_pending);
} module_pending SEC(".maps");

/* issue 4 (load_module): state of the .modinfo search in an init_module image (bpf_loop callback
 * state lives in a map value, not on the stack). */
struct module_scan {
	__u64 image;      /* const void __user * */
	__u64 image_len;
	__u64 shoff;
	__u64 stroff;     /* file offset of the section name table */
	__u64 strsize;
	__u64 found_off;  /* .modinfo offset and size, when found */
	__u64 found_size;
	__u32 shnum;
	__u32 found;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct module_scan);
} module_scan SEC(".maps");

#endif /* CSM_MAPS_H */
