import CLibBPF
public let probesVersion = libbpf_major_version()
