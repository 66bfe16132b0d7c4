import AgentCore
import CLibBPF

/// Decoders of ptrace, signal, mmap, mprotect, splice and bpf records (issue 4; not yet captured).
extension RecordDecoder {
    func decodePtrace(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.ptrace.rawValue)
    }

    func decodeSignal(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.signal.rawValue)
    }

    func decodeMMap(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.mmap.rawValue)
    }

    func decodeMProtect(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.mprotect.rawValue)
    }

    func decodeSplice(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.splice.rawValue)
    }

    func decodeBPF(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.bpf.rawValue)
    }
}
