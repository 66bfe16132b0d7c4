#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Small constructors for field accessors, shared by the process, file and event field tables.
enum Read {
    static func string(_ get: @escaping (EvalContext) -> String?) -> FieldAccessor {
        .string { ctx, body in
            if let s = get(ctx) { return withBytes(s, body) }
            return withEmpty(body)
        }
    }

    static func int(_ get: @escaping (EvalContext) -> Int64?) -> FieldAccessor {
        .int { ctx, body in body(get(ctx) ?? 0) }
    }

    static func bool(_ get: @escaping (EvalContext) -> Bool?) -> FieldAccessor {
        .bool { ctx in get(ctx) ?? false }
    }

    /// Every string of a packed list (arguments, environment).
    static func strings(_ get: @escaping (EvalContext) -> StringList?) -> FieldAccessor {
        .string { ctx, body in
            guard let values = get(ctx) else { return false }
            return values.containsUTF8(where: body)
        }
    }

    /// Strings joined by one space (`process.args`), assembled once per evaluation and process in the
    /// context's `slot`.
    static func joined(_ slot: DerivedSlot, _ get: @escaping ProcessAccessor) -> FieldAccessor {
        .string { ctx, body in
            guard let entry = get(ctx) else { return withEmpty(body) }
            return entry._withUnsafeGuaranteedRef { process in
                if process.args.isEmpty { return withEmpty(body) }
                if process.args.count == 1 { return process.args.withUTF8(0, body) }
                return ctx.withDerivedBytes(slot, process, { appendJoined(process.args, to: &$0) }, body)
            }
        }
    }

    /// Strings joined by one space, assembled in a scratch buffer per read (rare fields).
    static func joined(_ get: @escaping (EvalContext) -> StringList?) -> FieldAccessor {
        let scratch = ByteScratch()
        return .string { ctx, body in
            guard let values = get(ctx), !values.isEmpty else { return withEmpty(body) }
            if values.count == 1 { return values.withUTF8(0, body) }
            scratch.bytes.removeAll(keepingCapacity: true)
            appendJoined(values, to: &scratch.bytes)
            return scratch.bytes.withUnsafeBufferPointer { body($0) }
        }
    }

    /// Environment variable names (`NAME` of each `NAME=value`).
    static func envNames(_ get: @escaping (EvalContext) -> StringList?) -> FieldAccessor {
        .string { ctx, body in
            guard let values = get(ctx) else { return false }
            return values.containsUTF8 { b in
                // libc's vectorized memchr: about 37 names per exec.
                guard let base = b.baseAddress, let equal = memchr(base, 61, b.count) else { return body(b) }  // '='
                return body(UnsafeBufferPointer(start: base, count: UnsafeRawPointer(equal) - UnsafeRawPointer(base)))
            }
        }
    }

    /// Datadog's `args_flags`: for `-abc` the letters and `abc`, for `--long` the name `long`;
    /// arguments carrying `=` are options, not flags.
    static func argFlags(_ get: @escaping (EvalContext) -> StringList?) -> FieldAccessor {
        .string { ctx, body in
            guard let args = get(ctx) else { return false }
            return args.containsUTF8 { b -> Bool in
                    guard b.count > 1, b[0] == 45 else { return false }
                    var start = 1
                    var single = true
                    if b[1] == 45 {
                        start = 2
                        single = false
                    }
                    guard start < b.count else { return false }
                    var alnum = true
                    var hasEqual = false
                    for i in start..<b.count {
                        let c = b[i]
                        if c == 61 { hasEqual = true }
                        if !((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) { alnum = false }
                    }
                    if hasEqual { return false }
                    let name = UnsafeBufferPointer(rebasing: b[start...])
                    if single && alnum && name.count > 1 {
                        for i in 0..<name.count where body(UnsafeBufferPointer(rebasing: name[i..<(i + 1)])) {
                            return true
                        }
                    }
                    return body(name)
            }
        }
    }

    /// Datadog's `args_options`: `--name=value` gives `name=value`; `-o value` gives `o=value`.
    /// Assembled once per evaluation and process in the context's `slot`, NUL-separated (arguments
    /// come from the kernel's NUL-separated argv, so they hold no NUL).
    static func argOptions(_ slot: DerivedSlot, _ get: @escaping ProcessAccessor) -> FieldAccessor {
        .string { ctx, body in
            guard let entry = get(ctx) else { return false }
            return entry._withUnsafeGuaranteedRef { process in
            if process.args.isEmpty { return false }
            return ctx.withDerivedBytes(slot, process, { out in
                let args = process.args
                let bytes = args.utf8
                var i = 0
                while i < args.count {
                    var u = bytes[args.byteRange(i)]
                    guard u.count > 1, u.first == 45 else { i += 1; continue }
                    u = u.dropFirst()
                    if u.first == 45 { u = u.dropFirst() }
                    guard let first = u.first, (first >= 48 && first <= 57) || (first >= 65 && first <= 90) || (first >= 97 && first <= 122) else {
                        i += 1
                        continue
                    }
                    if u.contains(61) {
                        out.append(contentsOf: u)
                        out.append(0)
                    } else if i + 1 < args.count, bytes[args.byteRange(i + 1)].first != 45 {
                        out.append(contentsOf: u)
                        out.append(61)
                        out.append(contentsOf: bytes[args.byteRange(i + 1)])
                        out.append(0)
                        i += 1
                    }
                    i += 1
                }
            }, { all in
                var start = 0
                var i = 0
                while i < all.count {
                    if all[i] == 0 {
                        if body(UnsafeBufferPointer(rebasing: all[start..<i])) { return true }
                        start = i + 1
                    }
                    i += 1
                }
                return false
            })
            }
        }
    }
}

/// Reads the process a group of fields is about (the event's, its parent, the current ancestor, a
/// ptrace tracee ...). Unretained: every process an evaluation reads is reachable from the event,
/// which stays unchanged while it is evaluated, and a retained reference cost an atomic retain and
/// release per field read (about 19 of them per exec event).
typealias ProcessAccessor = (EvalContext) -> Unmanaged<ProcessEntry>?

/// `entry`, unretained (see `ProcessAccessor`).
@inline(__always)
func unretained(_ entry: ProcessEntry?) -> Unmanaged<ProcessEntry>? {
    entry.map { Unmanaged.passUnretained($0) }
}

/// `get` applied to the process `proc` reads, or nil without one.
@inline(__always)
func withProcess<R>(_ proc: ProcessAccessor, _ ctx: EvalContext, _ get: (ProcessEntry) -> R?) -> R? {
    guard let entry = proc(ctx) else { return nil }
    return entry._withUnsafeGuaranteedRef { get($0) }
}

/// Appends the strings of `values` joined by one space.
@inline(__always)
func appendJoined(_ values: StringList, to bytes: inout [UInt8]) {
    let utf8 = values.utf8
    for i in values.indices {
        if i > 0 { bytes.append(32) }
        bytes.append(contentsOf: utf8[values.byteRange(i)])
    }
}
