import AgentCore
import CLibBPF

/// Decoders of ptrace, signal, mmap, mprotect, splice and bpf records (issue 4, layouts in the
/// `ptrace, signal, mmap, mprotect, splice, bpf records` section of bpf/include/events.h).
extension RecordDecoder {
    static func hasFlag(_ flags: UInt32, _ flag: csm_pm_flag) -> Bool { flags & UInt32(flag.rawValue) != 0 }

    func decodePtrace(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_ptrace_event.self, from: record)
        let payload = PtracePayload(request: fixed.request, address: fixed.address, traceePid: fixed.pid)
        return Event(type: .ptrace, retval: fixed.retval, payload: .ptrace(payload))
    }

    func decodeSignal(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_signal_event.self, from: record)
        let payload = SignalPayload(type: fixed.type, pid: fixed.pid)
        return Event(type: .signal, retval: fixed.retval, payload: .signal(payload))
    }

    func decodeMMap(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_mmap_event.self, from: record)
        var cursor = MemoryLayout<csm_mmap_event>.size
        let path = try take(Int(fixed.file.path_len), from: record, at: &cursor, type: fixed.hdr.type)
        let file = Self.hasFlag(fixed.pm_flags, CSM_PM_HAS_FILE) ? Self.file(fixed.file, path: path) : nil
        let payload = MMapPayload(
            address: fixed.address, offset: fixed.offset, length: fixed.length,
            protection: fixed.protection, flags: fixed.flags, file: file
        )
        return Event(type: .mmap, retval: fixed.retval, payload: .mmap(payload))
    }

    func decodeMProtect(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_mprotect_event.self, from: record)
        let payload = MProtectPayload(
            vmStart: fixed.vm_start, vmEnd: fixed.vm_end, vmProtection: fixed.vm_protection,
            reqProtection: fixed.req_protection
        )
        return Event(type: .mprotect, retval: fixed.retval, payload: .mprotect(payload))
    }

    func decodeSplice(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_splice_event.self, from: record)
        var cursor = MemoryLayout<csm_splice_event>.size
        let path = try take(Int(fixed.file.path_len), from: record, at: &cursor, type: fixed.hdr.type)
        let file = Self.hasFlag(fixed.pm_flags, CSM_PM_HAS_FILE) ? Self.file(fixed.file, path: path) : nil
        let payload = SplicePayload(pipeEntryFlag: fixed.pipe_entry_flag, pipeExitFlag: fixed.pipe_exit_flag, file: file)
        return Event(type: .splice, retval: fixed.retval, payload: .splice(payload))
    }

    func decodeBPF(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_bpf_event.self, from: record)
        var payload = BPFPayload(cmd: fixed.cmd)
        if Self.hasFlag(fixed.pm_flags, CSM_PM_HAS_MAP) {
            payload.mapName = Self.string(fromCharArray: fixed.map_name)
            payload.mapType = fixed.map_type
        }
        if Self.hasFlag(fixed.pm_flags, CSM_PM_HAS_PROG) {
            payload.progName = Self.string(fromCharArray: fixed.prog_name)
            payload.progType = fixed.prog_type
            payload.attachType = fixed.attach_type
            payload.helpers = Self.helperIDs(fixed.helpers)
        }
        if Self.hasFlag(fixed.pm_flags, CSM_PM_HAS_TAG) {
            payload.progTag = withUnsafeBytes(of: fixed.tag) { Self.hex($0) }
        }
        return Event(type: .bpf, retval: fixed.retval, payload: .bpf(payload))
    }

    /// Helper ids whose bit is set in the kernel's bitmap (bit n of word n / 64), ascending.
    static func helperIDs<T>(_ bitmap: T) -> [UInt32] {
        withUnsafeBytes(of: bitmap) { raw in
            var ids: [UInt32] = []
            for word in 0..<(raw.count / 8) {
                var bits = raw.loadUnaligned(fromByteOffset: word * 8, as: UInt64.self)
                while bits != 0 {
                    let bit = UInt32(bits.trailingZeroBitCount)
                    ids.append(UInt32(word) * 64 + bit)
                    bits &= bits - 1
                }
            }
            return ids
        }
    }

    /// Lowercase hex of `bytes` (the program tag, as bpftool prints it).
    static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
