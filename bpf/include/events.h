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
	/* Reserved for the types the rule engine models but no probe produces yet (the file,
	 * credential and network types of the backend schema): no record is defined for them. */
	CSM_EVENT_CHMOD = 16,
	CSM_EVENT_CHOWN = 17,
	CSM_EVENT_LINK = 18,
	CSM_EVENT_RENAME = 19,
	CSM_EVENT_UNLINK = 20,
	CSM_EVENT_UTIMES = 21,
	CSM_EVENT_MKDIR = 22,
	CSM_EVENT_RMDIR = 23,
	CSM_EVENT_SETXATTR = 24,
	CSM_EVENT_REMOVEXATTR = 25,
	CSM_EVENT_CHDIR = 26,
	CSM_EVENT_SETUID = 27,
	CSM_EVENT_SETGID = 28,
	CSM_EVENT_CAPSET = 29,
	CSM_EVENT_CONNECT = 30,
	CSM_EVENT_ACCEPT = 31,
	CSM_EVENT_DNS = 32,
	CSM_EVENT_IMDS = 33,
	/* One past the highest number in use: sizes the per-type lost counters. */
	CSM_EVENT_TYPE_MAX = 34,
};

/* Why a path could not be resolved completely (bit set in csm_file.path_error). */
enum csm_path_error {
	CSM_PATH_ERR_TOO_DEEP = 1 << 0,   /* more than CSM_MAX_PATH_DEPTH components */
	CSM_PATH_ERR_TOO_LONG = 1 << 1,   /* longer than CSM_PATH_MAX bytes */
	CSM_PATH_ERR_READ = 1 << 2,       /* a kernel read failed mid-walk */
	CSM_PATH_ERR_NO_FILE = 1 << 3,    /* no struct file / dentry to start from */
	CSM_PATH_ERR_USER_READ = 1 << 4,  /* the user-space path argument could not be read */
	/* Not errors: facts about the file the path alone cannot tell. */
	CSM_PATH_ERR_PSEUDO = 1 << 5,     /* in no directory tree (memfd, pipe, socket): the data is its
					   * dentry name ("memfd:NAME"), not a path */
	CSM_PATH_ERR_DELETED = 1 << 6,    /* the file's dentry is unlinked (what d_path calls "(deleted)") */
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

/* Bytes of a user string argument (mount target/source/fstype, umount target) kept in a record;
 * longer ones are cut and flagged CSM_MNT_USER_TRUNCATED. */
#define CSM_MOUNT_USER_STR_MAX 1024
#define CSM_MOUNT_FSTYPE_ARG_MAX 64
/* Bytes of a mount's device name (struct mount.mnt_devname) kept in a record. */
#define CSM_MOUNT_DEVNAME_MAX 256
/* Bytes of the user's sockaddr copied by bind (sizeof(struct sockaddr_storage)). */
#define CSM_BIND_SOCKADDR_MAX 128
/* Module parameter string and .modinfo bytes kept in a load_module record. */
#define CSM_MODULE_ARGS_MAX 1024
#define CSM_MODULE_MODINFO_MAX 2048
/* Section headers scanned for .modinfo in an init_module image. */
#define CSM_MODULE_MAX_SECTIONS 256
#define CSM_MODULE_NAME_LEN 64

/* Flags of the mount / umount / bind / module records (their `mbm_flags`). */
enum csm_mbm_flag {
	CSM_MNT_NEW_MOUNT = 1 << 0,        /* mount: mount_id.. describe the mount this call made */
	CSM_MNT_USER_TRUNCATED = 1 << 1,   /* a user string argument was longer than kept */
	CSM_MNT_USER_UNREADABLE = 1 << 2,  /* a user string argument could not be read */
	CSM_MNT_HAS_CWD = 1 << 3,          /* data carries the caller's cwd (a user path is relative) */
	CSM_BIND_ADDR_UNREADABLE = 1 << 4, /* bind: the sockaddr could not be read */
	CSM_BIND_ADDR_TRUNCATED = 1 << 5,  /* bind: addrlen was larger than CSM_BIND_SOCKADDR_MAX */
	CSM_MOD_ARGS_TRUNCATED = 1 << 6,   /* load_module: parameter string longer than kept */
	CSM_MOD_HAS_FILE = 1 << 7,         /* load_module: `file` describes the finit_module fd */
	CSM_MOD_MODINFO = 1 << 8,          /* load_module: data carries the image's .modinfo bytes */
	CSM_MOD_IMAGE_UNREADABLE = 1 << 9, /* load_module: the init_module image could not be parsed */
	CSM_MOD_KERNEL_NAME = 1 << 10,     /* load_module: kernel_name is the loaded struct module's name */
	CSM_MOD_ARGS_UNREADABLE = 1 << 11, /* load_module: the parameter string could not be read */
};

/* Syscalls behind a mount record, in csm_mount_event.syscall. */
enum csm_mount_syscall {
	CSM_SYS_MOUNT = 0,
	CSM_SYS_MOVE_MOUNT = 1,
	CSM_SYS_FSMOUNT = 2,
};

/* Syscalls behind a load_module record, in csm_load_module_event.syscall. */
enum csm_module_syscall {
	CSM_SYS_INIT_MODULE = 0,
	CSM_SYS_FINIT_MODULE = 1,
};

/* mount(2) / move_mount(2), at syscall exit: 128 bytes.
 * data: mountpoint[mountpoint_len] | devname[devname_len] | user_target | user_source |
 *       user_fstype | cwd[cwd_len]
 * With CSM_MNT_NEW_MOUNT the ids, device, fs_type, mountpoint and devname come from the kernel's
 * struct mount (the newest mount of the caller's namespace for mount(2), the moved fd's mount for
 * move_mount); otherwise only the user arguments (and the cwd they are relative to) are known. */
struct csm_mount_event {
	struct csm_event_header hdr;
	__s64 retval;
	__u64 mount_flags;    /* mount(2) MS_* flags, move_mount(2) MOVE_MOUNT_* flags */
	__u32 mount_id;
	__u32 parent_mount_id;
	__u32 device;         /* superblock s_dev, kernel encoding */
	__u32 mnt_ns;         /* inode number of the caller's mount namespace */
	__u32 syscall;        /* enum csm_mount_syscall */
	__u32 mbm_flags;      /* enum csm_mbm_flag */
	__u32 mountpoint_error; /* enum csm_path_error */
	__u32 cwd_error;
	__u16 mountpoint_len;
	__u16 devname_len;
	__u16 user_target_len;
	__u16 user_source_len;
	__u16 user_fstype_len;
	__u16 cwd_len;
	__u32 _pad;
	char fs_type[CSM_FSTYPE_LEN];
	char data[];
};

/* umount2(2), at syscall exit: 80 bytes. data: user_target[user_target_len] | cwd[cwd_len]
 * The mount is found by user space in its mount table (the kernel cannot look a path up). */
struct csm_umount_event {
	struct csm_event_header hdr;
	__s64 retval;
	__u32 flags;          /* MNT_FORCE, MNT_DETACH, ... */
	__u32 mnt_ns;
	__u32 mbm_flags;
	__u32 cwd_error;
	__u16 user_target_len;
	__u16 cwd_len;
	__u32 _pad;
	char data[];
};

/* bind(2), at syscall exit: 208 bytes. */
struct csm_bind_event {
	struct csm_event_header hdr;
	__s64 retval;
	__s32 fd;
	__s32 addrlen;        /* as passed */
	__u32 sockaddr_len;   /* bytes of sockaddr copied */
	__u32 mbm_flags;
	__u16 protocol;       /* sk_protocol of the socket (IPPROTO_*), 0 if unknown */
	__u16 sock_type;      /* SOCK_STREAM, SOCK_DGRAM, ... 0 if unknown */
	__u32 _pad;
	__u8 sockaddr[CSM_BIND_SOCKADDR_MAX];
};

/* init_module(2) / finit_module(2), at syscall exit: 224 bytes.
 * data: path[file.path_len] | args[args_len] | modinfo[modinfo_len] */
struct csm_load_module_event {
	struct csm_event_header hdr;
	struct csm_file file;
	__s64 retval;
	__u64 image_len;      /* init_module: bytes of the image */
	__s32 fd;             /* finit_module: the module file */
	__u32 syscall;        /* enum csm_module_syscall */
	__u32 finit_flags;
	__u32 mbm_flags;
	__u16 args_len;
	__u16 modinfo_len;
	__u32 _pad;
	char kernel_name[CSM_MODULE_NAME_LEN];
	char data[];
};

/* delete_module(2), at syscall exit: 128 bytes. */
struct csm_unload_module_event {
	struct csm_event_header hdr;
	__s64 retval;
	__u32 flags;          /* O_NONBLOCK, O_TRUNC */
	__u32 mbm_flags;
	char name[CSM_MODULE_NAME_LEN];
};

/* ---- ptrace, signal, mmap, mprotect, splice, bpf records (issue 4) ---- */

/* Flags shared by the records of this section (csm_*_event.flags). */
enum csm_pm_flag {
	CSM_PM_HAS_FILE = 1 << 0,        /* mmap / splice: `file` describes a struct file */
	CSM_PM_NO_VMA = 1 << 1,          /* mprotect: no VMA at the start address (vm_* are 0) */
	CSM_PM_VMA_BUSY = 1 << 2,        /* mprotect: the VMA could not be looked up (mmap lock busy) */
	CSM_PM_NOT_A_PIPE = 1 << 3,      /* splice: fd_out is not a pipe, the pipe flags are 0 */
	CSM_PM_ATTR_UNREADABLE = 1 << 4, /* bpf: the bpf_attr could not be read from user memory */
	CSM_PM_HAS_MAP = 1 << 5,         /* bpf: map_type / map_name are set */
	CSM_PM_HAS_PROG = 1 << 6,        /* bpf: prog_type / attach_type / prog_name are set */
	CSM_PM_HAS_TAG = 1 << 7,         /* bpf: tag read from the loaded struct bpf_prog */
	CSM_PM_HELPERS_TRUNCATED = 1 << 8, /* bpf: not every instruction was scanned for helper calls */
	CSM_PM_INSNS_UNREADABLE = 1 << 9,  /* bpf: the instructions could not be read (no helpers) */
};

/* Syscalls that send a signal, in csm_signal_event.syscall. */
enum csm_signal_syscall {
	CSM_SYS_KILL = 0,
	CSM_SYS_TKILL = 1,
	CSM_SYS_TGKILL = 2,
	CSM_SYS_RT_SIGQUEUEINFO = 3,
	CSM_SYS_RT_TGSIGQUEUEINFO = 4,
};

/* Helper ids covered by csm_bpf_event.helpers (a bitmap); higher ids set HELPERS_TRUNCATED. */
#define CSM_BPF_HELPER_BITMAP_WORDS 4
/* Most instructions scanned for helper calls; longer programs set HELPERS_TRUNCATED. */
#define CSM_BPF_MAX_SCANNED_INSNS 65536
#define CSM_BPF_OBJ_NAME_LEN 16
#define CSM_BPF_TAG_SIZE 8

/* ptrace(2), at syscall exit: 72 bytes. */
struct csm_ptrace_event {
	struct csm_event_header hdr;
	__s64 retval;
	__u64 address;
	__u32 request;
	__u32 pid;            /* tracee as passed (caller's pid namespace); the caller for PTRACE_TRACEME */
};

/* kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, at syscall exit: 72 bytes. */
struct csm_signal_event {
	struct csm_event_header hdr;
	__s64 retval;
	__s32 pid;            /* target as passed: tgid (tid for tkill); 0 or negative: a process group */
	__u32 type;           /* signal number */
	__u32 syscall;        /* enum csm_signal_syscall */
	__u32 tid;            /* tgkill / rt_tgsigqueueinfo: the target thread; else 0 */
};

/* mmap(2), at syscall exit: 168 bytes. data: path[file.path_len] when CSM_PM_HAS_FILE. */
struct csm_mmap_event {
	struct csm_event_header hdr;
	struct csm_file file;
	__s64 retval;
	__u64 address;        /* the mapping on success, the requested address otherwise */
	__u64 offset;
	__u64 length;
	__u32 protection;     /* PROT_* */
	__u32 flags;          /* MAP_* */
	__s32 fd;
	__u32 pm_flags;       /* enum csm_pm_flag */
	char data[];
};

/* mprotect(2), at syscall exit; the VMA is read at syscall entry: 104 bytes. */
struct csm_mprotect_event {
	struct csm_event_header hdr;
	__s64 retval;
	__u64 vm_start;       /* the VMA holding the start address, before the call */
	__u64 vm_end;
	__u64 req_start;      /* the arguments */
	__u64 req_length;
	__u32 vm_protection;  /* VM_READ/WRITE/EXEC of that VMA, as PROT_* bits */
	__u32 req_protection; /* PROT_* requested */
	__u32 pm_flags;       /* enum csm_pm_flag */
	__u32 _pad;
};

/* splice(2), at syscall exit: 152 bytes. data: path[file.path_len] of fd_in when CSM_PM_HAS_FILE. */
struct csm_splice_event {
	struct csm_event_header hdr;
	struct csm_file file;
	__s64 retval;
	__s32 fd_in;
	__s32 fd_out;
	__u32 pipe_entry_flag; /* flags of fd_out's last pipe buffer before the call */
	__u32 pipe_exit_flag;  /* ... and after it */
	__u32 splice_flags;
	__u32 pm_flags;        /* enum csm_pm_flag */
	char data[];
};

/* bpf(2), at syscall exit: 152 bytes. */
struct csm_bpf_event {
	struct csm_event_header hdr;
	__s64 retval;
	__u32 cmd;
	__u32 pm_flags;       /* enum csm_pm_flag */
	__u32 map_type;
	__u32 prog_type;
	__u32 attach_type;    /* expected_attach_type */
	__u32 insn_cnt;
	char map_name[CSM_BPF_OBJ_NAME_LEN];
	char prog_name[CSM_BPF_OBJ_NAME_LEN];
	__u8 tag[CSM_BPF_TAG_SIZE];
	__u64 helpers[CSM_BPF_HELPER_BITMAP_WORDS]; /* bit n set: helper id n is called */
};

#endif /* CSM_EVENTS_H */
