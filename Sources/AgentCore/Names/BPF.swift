// Names of bpf(2) commands, map/program/attach types and helper functions, indexed by their value in
// include/uapi/linux/bpf.h (enum order; helper ids follow the __BPF_FUNC_MAPPER order). Values past the
// end of a table (newer kernels) are written as the numeric value so nothing is lost.

/// `bpf.cmd` name (`BPF_MAP_CREATE`) for a bpf(2) command number.
public func bpfCommandName(_ cmd: UInt32) -> String { tableName(bpfCommandNames, cmd, prefix: "BPF_CMD_") }

/// `bpf.map.type` name (`BPF_MAP_TYPE_ARRAY`).
public func bpfMapTypeName(_ type: UInt32) -> String { tableName(bpfMapTypeNames, type, prefix: "BPF_MAP_TYPE_") }

/// `bpf.prog.type` name (`BPF_PROG_TYPE_SOCKET_FILTER`).
public func bpfProgramTypeName(_ type: UInt32) -> String { tableName(bpfProgramTypeNames, type, prefix: "BPF_PROG_TYPE_") }

/// `bpf.prog.attach_type` name (`BPF_CGROUP_INET_INGRESS`).
public func bpfAttachTypeName(_ type: UInt32) -> String { tableName(bpfAttachTypeNames, type, prefix: "BPF_ATTACH_TYPE_") }

/// `bpf.prog.helpers` name (`bpf_map_lookup_elem`) for a helper id.
public func bpfHelperName(_ id: UInt32) -> String { tableName(bpfHelperNames, id, prefix: "bpf_helper_") }

/// Looks `value` up in `table`; unknown values become `prefix` + the decimal value.
@inline(__always)
public func tableName(_ table: [StaticString], _ value: UInt32, prefix: String) -> String {
    if Int(value) < table.count { return table[Int(value)].description }
    return prefix + String(value)
}

/// The value `tableName` wrote as `name`: its index in `table`, or the number after `prefix`.
@inline(__always)
func tableValue(_ numbers: [String: UInt32], _ name: Substring, prefix: String) -> UInt32? {
    numbers[String(name)] ?? decimalSuffix(name, after: prefix)
}

private let bpfCommands = reverseTable(bpfCommandNames)
private let bpfMapTypes = reverseTable(bpfMapTypeNames)
private let bpfProgramTypes = reverseTable(bpfProgramTypeNames)
private let bpfAttachTypes = reverseTable(bpfAttachTypeNames)
private let bpfHelpers = reverseTable(bpfHelperNames)

/// The command `bpfCommandName` writes as `name` (`BPF_PROG_LOAD`, `BPF_CMD_40`); nil for other text.
public func bpfCommand(named name: Substring) -> UInt32? { tableValue(bpfCommands, name, prefix: "BPF_CMD_") }

/// The map type `bpfMapTypeName` writes as `name`; nil for other text.
public func bpfMapType(named name: Substring) -> UInt32? { tableValue(bpfMapTypes, name, prefix: "BPF_MAP_TYPE_") }

/// The program type `bpfProgramTypeName` writes as `name`; nil for other text.
public func bpfProgramType(named name: Substring) -> UInt32? { tableValue(bpfProgramTypes, name, prefix: "BPF_PROG_TYPE_") }

/// The attach type `bpfAttachTypeName` writes as `name`; nil for other text.
public func bpfAttachType(named name: Substring) -> UInt32? { tableValue(bpfAttachTypes, name, prefix: "BPF_ATTACH_TYPE_") }

/// The helper id `bpfHelperName` writes as `name` (`bpf_map_lookup_elem`, `bpf_helper_999`). The
/// spellings of the kernel's enum (`BPF_FUNC_map_lookup_elem`) and of SECL constants
/// (`BPF_MAP_LOOKUP_ELEM`) are read too. Nil for other text.
public func bpfHelper(named name: Substring) -> UInt32? {
    if let id = tableValue(bpfHelpers, name, prefix: "bpf_helper_") { return id }
    var lower = name.lowercased()
    if lower.hasPrefix("bpf_func_") { lower = "bpf_" + lower.dropFirst("bpf_func_".count) }
    return bpfHelpers[lower]
}

public let bpfCommandNames: [StaticString] = [
    "BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_MAP_UPDATE_ELEM", "BPF_MAP_DELETE_ELEM",
    "BPF_MAP_GET_NEXT_KEY", "BPF_PROG_LOAD", "BPF_OBJ_PIN", "BPF_OBJ_GET", "BPF_PROG_ATTACH",
    "BPF_PROG_DETACH", "BPF_PROG_TEST_RUN", "BPF_PROG_GET_NEXT_ID", "BPF_MAP_GET_NEXT_ID",
    "BPF_PROG_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID", "BPF_OBJ_GET_INFO_BY_FD", "BPF_PROG_QUERY",
    "BPF_RAW_TRACEPOINT_OPEN", "BPF_BTF_LOAD", "BPF_BTF_GET_FD_BY_ID", "BPF_TASK_FD_QUERY",
    "BPF_MAP_LOOKUP_AND_DELETE_ELEM", "BPF_MAP_FREEZE", "BPF_BTF_GET_NEXT_ID", "BPF_MAP_LOOKUP_BATCH",
    "BPF_MAP_LOOKUP_AND_DELETE_BATCH", "BPF_MAP_UPDATE_BATCH", "BPF_MAP_DELETE_BATCH", "BPF_LINK_CREATE",
    "BPF_LINK_UPDATE", "BPF_LINK_GET_FD_BY_ID", "BPF_LINK_GET_NEXT_ID", "BPF_ENABLE_STATS", "BPF_ITER_CREATE",
    "BPF_LINK_DETACH", "BPF_PROG_BIND_MAP", "BPF_TOKEN_CREATE",
]

public let bpfMapTypeNames: [StaticString] = [
    "BPF_MAP_TYPE_UNSPEC", "BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_ARRAY", "BPF_MAP_TYPE_PROG_ARRAY",
    "BPF_MAP_TYPE_PERF_EVENT_ARRAY", "BPF_MAP_TYPE_PERCPU_HASH", "BPF_MAP_TYPE_PERCPU_ARRAY",
    "BPF_MAP_TYPE_STACK_TRACE", "BPF_MAP_TYPE_CGROUP_ARRAY", "BPF_MAP_TYPE_LRU_HASH",
    "BPF_MAP_TYPE_LRU_PERCPU_HASH", "BPF_MAP_TYPE_LPM_TRIE", "BPF_MAP_TYPE_ARRAY_OF_MAPS",
    "BPF_MAP_TYPE_HASH_OF_MAPS", "BPF_MAP_TYPE_DEVMAP", "BPF_MAP_TYPE_SOCKMAP", "BPF_MAP_TYPE_CPUMAP",
    "BPF_MAP_TYPE_XSKMAP", "BPF_MAP_TYPE_SOCKHASH", "BPF_MAP_TYPE_CGROUP_STORAGE",
    "BPF_MAP_TYPE_REUSEPORT_SOCKARRAY", "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE", "BPF_MAP_TYPE_QUEUE",
    "BPF_MAP_TYPE_STACK", "BPF_MAP_TYPE_SK_STORAGE", "BPF_MAP_TYPE_DEVMAP_HASH", "BPF_MAP_TYPE_STRUCT_OPS",
    "BPF_MAP_TYPE_RINGBUF", "BPF_MAP_TYPE_INODE_STORAGE", "BPF_MAP_TYPE_TASK_STORAGE",
    "BPF_MAP_TYPE_BLOOM_FILTER", "BPF_MAP_TYPE_USER_RINGBUF", "BPF_MAP_TYPE_CGRP_STORAGE",
    "BPF_MAP_TYPE_ARENA",
]

public let bpfProgramTypeNames: [StaticString] = [
    "BPF_PROG_TYPE_UNSPEC", "BPF_PROG_TYPE_SOCKET_FILTER", "BPF_PROG_TYPE_KPROBE", "BPF_PROG_TYPE_SCHED_CLS",
    "BPF_PROG_TYPE_SCHED_ACT", "BPF_PROG_TYPE_TRACEPOINT", "BPF_PROG_TYPE_XDP", "BPF_PROG_TYPE_PERF_EVENT",
    "BPF_PROG_TYPE_CGROUP_SKB", "BPF_PROG_TYPE_CGROUP_SOCK", "BPF_PROG_TYPE_LWT_IN", "BPF_PROG_TYPE_LWT_OUT",
    "BPF_PROG_TYPE_LWT_XMIT", "BPF_PROG_TYPE_SOCK_OPS", "BPF_PROG_TYPE_SK_SKB", "BPF_PROG_TYPE_CGROUP_DEVICE",
    "BPF_PROG_TYPE_SK_MSG", "BPF_PROG_TYPE_RAW_TRACEPOINT", "BPF_PROG_TYPE_CGROUP_SOCK_ADDR",
    "BPF_PROG_TYPE_LWT_SEG6LOCAL", "BPF_PROG_TYPE_LIRC_MODE2", "BPF_PROG_TYPE_SK_REUSEPORT",
    "BPF_PROG_TYPE_FLOW_DISSECTOR", "BPF_PROG_TYPE_CGROUP_SYSCTL", "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE",
    "BPF_PROG_TYPE_CGROUP_SOCKOPT", "BPF_PROG_TYPE_TRACING", "BPF_PROG_TYPE_STRUCT_OPS", "BPF_PROG_TYPE_EXT",
    "BPF_PROG_TYPE_LSM", "BPF_PROG_TYPE_SK_LOOKUP", "BPF_PROG_TYPE_SYSCALL", "BPF_PROG_TYPE_NETFILTER",
]

public let bpfAttachTypeNames: [StaticString] = [
    "BPF_CGROUP_INET_INGRESS", "BPF_CGROUP_INET_EGRESS", "BPF_CGROUP_INET_SOCK_CREATE", "BPF_CGROUP_SOCK_OPS",
    "BPF_SK_SKB_STREAM_PARSER", "BPF_SK_SKB_STREAM_VERDICT", "BPF_CGROUP_DEVICE", "BPF_SK_MSG_VERDICT",
    "BPF_CGROUP_INET4_BIND", "BPF_CGROUP_INET6_BIND", "BPF_CGROUP_INET4_CONNECT", "BPF_CGROUP_INET6_CONNECT",
    "BPF_CGROUP_INET4_POST_BIND", "BPF_CGROUP_INET6_POST_BIND", "BPF_CGROUP_UDP4_SENDMSG",
    "BPF_CGROUP_UDP6_SENDMSG", "BPF_LIRC_MODE2", "BPF_FLOW_DISSECTOR", "BPF_CGROUP_SYSCTL",
    "BPF_CGROUP_UDP4_RECVMSG", "BPF_CGROUP_UDP6_RECVMSG", "BPF_CGROUP_GETSOCKOPT", "BPF_CGROUP_SETSOCKOPT",
    "BPF_TRACE_RAW_TP", "BPF_TRACE_FENTRY", "BPF_TRACE_FEXIT", "BPF_MODIFY_RETURN", "BPF_LSM_MAC",
    "BPF_TRACE_ITER", "BPF_CGROUP_INET4_GETPEERNAME", "BPF_CGROUP_INET6_GETPEERNAME",
    "BPF_CGROUP_INET4_GETSOCKNAME", "BPF_CGROUP_INET6_GETSOCKNAME", "BPF_XDP_DEVMAP",
    "BPF_CGROUP_INET_SOCK_RELEASE", "BPF_XDP_CPUMAP", "BPF_SK_LOOKUP", "BPF_XDP", "BPF_SK_SKB_VERDICT",
    "BPF_SK_REUSEPORT_SELECT", "BPF_SK_REUSEPORT_SELECT_OR_MIGRATE", "BPF_PERF_EVENT",
    "BPF_TRACE_KPROBE_MULTI", "BPF_LSM_CGROUP", "BPF_STRUCT_OPS", "BPF_NETFILTER", "BPF_TCX_INGRESS",
    "BPF_TCX_EGRESS", "BPF_TRACE_UPROBE_MULTI", "BPF_CGROUP_UNIX_CONNECT", "BPF_CGROUP_UNIX_SENDMSG",
    "BPF_CGROUP_UNIX_RECVMSG", "BPF_CGROUP_UNIX_GETPEERNAME", "BPF_CGROUP_UNIX_GETSOCKNAME",
    "BPF_NETKIT_PRIMARY", "BPF_NETKIT_PEER", "BPF_TRACE_KPROBE_SESSION",
]

public let bpfHelperNames: [StaticString] = [
    "bpf_unspec", "bpf_map_lookup_elem", "bpf_map_update_elem", "bpf_map_delete_elem", "bpf_probe_read",
    "bpf_ktime_get_ns", "bpf_trace_printk", "bpf_get_prandom_u32", "bpf_get_smp_processor_id",
    "bpf_skb_store_bytes", "bpf_l3_csum_replace", "bpf_l4_csum_replace", "bpf_tail_call",
    "bpf_clone_redirect", "bpf_get_current_pid_tgid", "bpf_get_current_uid_gid", "bpf_get_current_comm",
    "bpf_get_cgroup_classid", "bpf_skb_vlan_push", "bpf_skb_vlan_pop", "bpf_skb_get_tunnel_key",
    "bpf_skb_set_tunnel_key", "bpf_perf_event_read", "bpf_redirect", "bpf_get_route_realm",
    "bpf_perf_event_output", "bpf_skb_load_bytes", "bpf_get_stackid", "bpf_csum_diff",
    "bpf_skb_get_tunnel_opt", "bpf_skb_set_tunnel_opt", "bpf_skb_change_proto", "bpf_skb_change_type",
    "bpf_skb_under_cgroup", "bpf_get_hash_recalc", "bpf_get_current_task", "bpf_probe_write_user",
    "bpf_current_task_under_cgroup", "bpf_skb_change_tail", "bpf_skb_pull_data", "bpf_csum_update",
    "bpf_set_hash_invalid", "bpf_get_numa_node_id", "bpf_skb_change_head", "bpf_xdp_adjust_head",
    "bpf_probe_read_str", "bpf_get_socket_cookie", "bpf_get_socket_uid", "bpf_set_hash", "bpf_setsockopt",
    "bpf_skb_adjust_room", "bpf_redirect_map", "bpf_sk_redirect_map", "bpf_sock_map_update",
    "bpf_xdp_adjust_meta", "bpf_perf_event_read_value", "bpf_perf_prog_read_value", "bpf_getsockopt",
    "bpf_override_return", "bpf_sock_ops_cb_flags_set", "bpf_msg_redirect_map", "bpf_msg_apply_bytes",
    "bpf_msg_cork_bytes", "bpf_msg_pull_data", "bpf_bind", "bpf_xdp_adjust_tail", "bpf_skb_get_xfrm_state",
    "bpf_get_stack", "bpf_skb_load_bytes_relative", "bpf_fib_lookup", "bpf_sock_hash_update",
    "bpf_msg_redirect_hash", "bpf_sk_redirect_hash", "bpf_lwt_push_encap", "bpf_lwt_seg6_store_bytes",
    "bpf_lwt_seg6_adjust_srh", "bpf_lwt_seg6_action", "bpf_rc_repeat", "bpf_rc_keydown", "bpf_skb_cgroup_id",
    "bpf_get_current_cgroup_id", "bpf_get_local_storage", "bpf_sk_select_reuseport",
    "bpf_skb_ancestor_cgroup_id", "bpf_sk_lookup_tcp", "bpf_sk_lookup_udp", "bpf_sk_release",
    "bpf_map_push_elem", "bpf_map_pop_elem", "bpf_map_peek_elem", "bpf_msg_push_data", "bpf_msg_pop_data",
    "bpf_rc_pointer_rel", "bpf_spin_lock", "bpf_spin_unlock", "bpf_sk_fullsock", "bpf_tcp_sock",
    "bpf_skb_ecn_set_ce", "bpf_get_listener_sock", "bpf_skc_lookup_tcp", "bpf_tcp_check_syncookie",
    "bpf_sysctl_get_name", "bpf_sysctl_get_current_value", "bpf_sysctl_get_new_value",
    "bpf_sysctl_set_new_value", "bpf_strtol", "bpf_strtoul", "bpf_sk_storage_get", "bpf_sk_storage_delete",
    "bpf_send_signal", "bpf_tcp_gen_syncookie", "bpf_skb_output", "bpf_probe_read_user",
    "bpf_probe_read_kernel", "bpf_probe_read_user_str", "bpf_probe_read_kernel_str", "bpf_tcp_send_ack",
    "bpf_send_signal_thread", "bpf_jiffies64", "bpf_read_branch_records", "bpf_get_ns_current_pid_tgid",
    "bpf_xdp_output", "bpf_get_netns_cookie", "bpf_get_current_ancestor_cgroup_id", "bpf_sk_assign",
    "bpf_ktime_get_boot_ns", "bpf_seq_printf", "bpf_seq_write", "bpf_sk_cgroup_id",
    "bpf_sk_ancestor_cgroup_id", "bpf_ringbuf_output", "bpf_ringbuf_reserve", "bpf_ringbuf_submit",
    "bpf_ringbuf_discard", "bpf_ringbuf_query", "bpf_csum_level", "bpf_skc_to_tcp6_sock",
    "bpf_skc_to_tcp_sock", "bpf_skc_to_tcp_timewait_sock", "bpf_skc_to_tcp_request_sock",
    "bpf_skc_to_udp6_sock", "bpf_get_task_stack", "bpf_load_hdr_opt", "bpf_store_hdr_opt",
    "bpf_reserve_hdr_opt", "bpf_inode_storage_get", "bpf_inode_storage_delete", "bpf_d_path",
    "bpf_copy_from_user", "bpf_snprintf_btf", "bpf_seq_printf_btf", "bpf_skb_cgroup_classid",
    "bpf_redirect_neigh", "bpf_per_cpu_ptr", "bpf_this_cpu_ptr", "bpf_redirect_peer", "bpf_task_storage_get",
    "bpf_task_storage_delete", "bpf_get_current_task_btf", "bpf_bprm_opts_set", "bpf_ktime_get_coarse_ns",
    "bpf_ima_inode_hash", "bpf_sock_from_file", "bpf_check_mtu", "bpf_for_each_map_elem", "bpf_snprintf",
    "bpf_sys_bpf", "bpf_btf_find_by_name_kind", "bpf_sys_close", "bpf_timer_init", "bpf_timer_set_callback",
    "bpf_timer_start", "bpf_timer_cancel", "bpf_get_func_ip", "bpf_get_attach_cookie", "bpf_task_pt_regs",
    "bpf_get_branch_snapshot", "bpf_trace_vprintk", "bpf_skc_to_unix_sock", "bpf_kallsyms_lookup_name",
    "bpf_find_vma", "bpf_loop", "bpf_strncmp", "bpf_get_func_arg", "bpf_get_func_ret", "bpf_get_func_arg_cnt",
    "bpf_get_retval", "bpf_set_retval", "bpf_xdp_get_buff_len", "bpf_xdp_load_bytes", "bpf_xdp_store_bytes",
    "bpf_copy_from_user_task", "bpf_skb_set_tstamp", "bpf_ima_file_hash", "bpf_kptr_xchg",
    "bpf_map_lookup_percpu_elem", "bpf_skc_to_mptcp_sock", "bpf_dynptr_from_mem",
    "bpf_ringbuf_reserve_dynptr", "bpf_ringbuf_submit_dynptr", "bpf_ringbuf_discard_dynptr",
    "bpf_dynptr_read", "bpf_dynptr_write", "bpf_dynptr_data", "bpf_tcp_raw_gen_syncookie_ipv4",
    "bpf_tcp_raw_gen_syncookie_ipv6", "bpf_tcp_raw_check_syncookie_ipv4", "bpf_tcp_raw_check_syncookie_ipv6",
    "bpf_ktime_get_tai_ns", "bpf_user_ringbuf_drain", "bpf_cgrp_storage_get", "bpf_cgrp_storage_delete",
]
