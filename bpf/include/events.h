/* SPDX-License-Identifier: Apache-2.0
 *
 * events.h: every record the BPF programs write to the ring buffer.
 *
 * This header is compiled twice: by clang -target bpf (where vmlinux.h supplies the __u* types) and
 * by Swift through the CLibBPF module map (where <linux/types.h> supplies them). Every record starts
 * with struct csm_event_header; fields are fixed-width and laid out without implicit padding so that
 * both sides agree byte for byte (Tests/ProbesTests/LayoutTests.swift checks sizes and offsets).
 *
 * Event type numbers are explicit and never reused: retire a number, do not recycle it.
 */
#ifndef CSM_EVENTS_H
#define CSM_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Limits shared by the kernel side and the decoder. */
#define CSM_TASK_COMM_LEN 16
#define CSM_TTY_NAME_LEN 64
#define CSM_FSTYPE_LEN 16
/* Longest path the kernel side assembles, terminating NUL excluded (PATH_MAX). */
#define CSM_PATH_MAX 4096
/* Most dentries walked for one path; deeper paths are flagged CSM_PATH_ERR_TOO_DEEP. */
#define CSM_MAX_PATH_DEPTH 96
/* Most mount crossings followed for one path. */
#define CSM_MAX_MOUNT_CROSSINGS 16
/* Bytes of argv / envp copied from the new mm at exec; more sets the *_TRUNCATED flag. */
#define CSM_MAX_ARGS_LEN 4096
#define CSM_MAX_ENVS_LEN 4096
/* Largest record; the per-CPU scratch buffer that builds records has this size. */
#define CSM_MAX_RECORD_LEN 16384

enum csm_event_type {
	CSM_EVENT_EXEC = 1,
	CSM_EVENT_FORK = 2,
	CSM_EVENT_EXIT = 3,
	CSM_EVENT_OPEN = 4,
	CSM_EVENT_MOUNT = 5,
	CSM_EVENT_UMOUNT = 6,
	CSM_EVENT_BIND = 7,
	CSM_EVENT_PTRACE = 8,
	CSM_EVENT_MMAP = 9,
	CSM_EVENT_MPROTECT = 10,
	CSM_EVENT_SIGNAL = 11,
	CSM_EVENT_SPLICE = 12,
	CSM_EVENT_BPF = 13,
	CSM_EVENT_LOAD_MODULE = 14,
	CSM_EVENT_UNLOAD_MODULE = 15,
	/* One past the highest number in use: sizes the per-type lost counters. */
	CSM_EVENT_TYPE_MAX = 16,
};

/* Why a path could not be resolved completely (bit set in csm_file.path_error). */
enum csm_path_error {
	CSM_PATH_ERR_TOO_DEEP = 1 << 0,   /* more than CSM_MAX_PATH_DEPTH components */
	CSM_PATH_ERR_TOO_LONG = 1 << 1,   /* longer than CSM_PATH_MAX bytes */
	CSM_PATH_ERR_READ = 1 << 2,       /* a kernel read failed mid-walk */
	CSM_PATH_ERR_NO_FILE = 1 << 3,    /* no struct file / dentry to start from */
	CSM_PATH_ERR_USER_READ = 1 << 4,  /* the user-space path argument could not be read */
};

/* Exit causes, as Datadog names them (EXITED / SIGNALED / COREDUMPED). */
enum csm_exit_cause {
	CSM_EXIT_EXITED = 0,
	CSM_EXIT_SIGNALED = 1,
	CSM_EXIT_COREDUMPED = 2,
};

/* Flags in csm_exec_event.flags. */
enum csm_exec_flag {
	CSM_EXEC_ARGS_TRUNCATED = 1 << 0,
	CSM_EXEC_ENVS_TRUNCATED = 1 << 1,
};

/* Open syscall variants, in csm_open_event.syscall. */
enum csm_open_syscall {
	CSM_SYS_OPEN = 0,
	CSM_SYS_OPENAT = 1,
	CSM_SYS_OPENAT2 = 2,
	CSM_SYS_CREAT = 3,
};

/* Common header: 48 bytes. `size` is the whole record, header and trailing data included. */
struct csm_event_header {
	__u32 type;          /* enum csm_event_type */
	__u32 size;
	__u64 timestamp_ns;  /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) */
	__u32 pid;           /* tgid of the acting task */
	__u32 tid;
	__u64 cgroup_id;     /* cgroup v2 id of the acting task */
	char comm[CSM_TASK_COMM_LEN];
};

/* Credentials of a task: 48 bytes. */
struct csm_credentials {
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 fsuid;
	__u32 fsgid;
	__u32 auid;          /* audit login uid; 4294967295 when unset */
	__u32 _pad;
	__u64 cap_effective;
	__u64 cap_permitted;
};

/* A file as seen through its inode and mount: 72 bytes. Its path travels in the record's data. */
struct csm_file {
	__u64 inode;
	__u64 ctime_ns;
	__u64 mtime_ns;
	__u32 mount_id;
	__u32 dev;           /* superblock s_dev, kernel encoding (major << 20 | minor) */
	__u32 mode;          /* i_mode: type and permission bits */
	__u32 uid;
	__u32 gid;
	__u32 path_error;    /* enum csm_path_error bits; 0 = path complete */
	__u16 path_len;      /* bytes of path in the record's data, no NUL */
	__u16 _pad[3];
	char fstype[CSM_FSTYPE_LEN];
};

/* exec: the new image of the acting process.
 * data: path[file.path_len] | args[args_len] | envs[envs_len]
 * args and envs are NUL-separated strings as laid out in the new mm (argv0 first). */
struct csm_exec_event {
	struct csm_event_header hdr;
	struct csm_file file;
	struct csm_credentials creds;
	__u64 fork_time_ns;  /* task start_boottime (CLOCK_BOOTTIME) */
	__u32 ppid;          /* tgid of real_parent */
	__u32 flags;         /* enum csm_exec_flag */
	__u32 args_len;
	__u32 envs_len;
	char tty[CSM_TTY_NAME_LEN];
	char data[];
};

/* fork: a new process (threads are not reported). hdr describes the parent. */
struct csm_fork_event {
	struct csm_event_header hdr;
	struct csm_credentials creds;
	__u32 child_pid;
	__u32 child_tid;
	__u64 child_start_ns; /* CLOCK_BOOTTIME of the child's start */
};

/* exit: the last thread of a process exited. */
struct csm_exit_event {
	struct csm_event_header hdr;
	__u32 cause;          /* enum csm_exit_cause */
	__u32 code;           /* exit status, or the signal number */
};

/* open / openat / openat2 / creat, at syscall exit.
 * data: path[file.path_len] | user_path[user_path_len]
 * On success `path` is the absolute path of the opened file. On failure `path` is the directory the
 * user path is relative to (cwd or dirfd), or empty when the user path is absolute. */
struct csm_open_event {
	struct csm_event_header hdr;
	struct csm_file file;
	__s64 retval;
	__u32 flags;
	__u32 mode;
	__s32 dirfd;
	__u32 syscall;        /* enum csm_open_syscall */
	__u32 user_path_len;
	__u32 _pad;
	char data[];
};

/* ---- mount, umount, bind, load_module, unload_module records (issue 4) ---- */

/* ---- ptrace, signal, mmap, mprotect, splice, bpf records (issue 4) ---- */

#endif /* CSM_EVENTS_H */
