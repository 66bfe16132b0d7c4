import AgentCore
import CLibBPF

/// Decoders of mount, umount, bind, load_module and unload_module records (issue 4; not yet captured).
extension RecordDecoder {
    func decodeMount(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.mount.rawValue)
    }

    func decodeUmount(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.umount.rawValue)
    }

    func decodeBind(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.bind.rawValue)
    }

    func decodeLoadModule(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.loadModule.rawValue)
    }

    func decodeUnloadModule(_ record: UnsafeRawBufferPointer) throws -> Event {
        throw DecodeError.unknownType(EventType.unloadModule.rawValue)
    }
}
