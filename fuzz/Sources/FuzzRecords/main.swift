import AgentCore
import Probes

nonisolated(unsafe) let decoder = RecordDecoder(clock: BootClock(offsetNs: 0))

/// Any bytes as one ring-buffer record: random and truncated records, wrong sizes and type
/// numbers must be decode errors, never a crash or an out-of-bounds read (AddressSanitizer).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // A copy of exactly `size` bytes, so that a read past the record is caught.
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
    defer { copy.deallocate() }
    if size > 0 { copy.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size)) }
    _ = try? decoder.decode(UnsafeRawBufferPointer(copy))
    return 0
}

/// SwiftPM links an executable target's entry point as `FuzzRecords_main`; it hands over to libFuzzer's driver.
@_cdecl("FuzzRecords_main")
func fuzzerEntry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzRecords)
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32
