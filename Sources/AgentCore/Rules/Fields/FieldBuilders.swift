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
    static func joined(_ slot: DerivedSlot, _ get: FieldProcess) -> FieldAccessor {
        .string { ctx, body in
            guard let entry = get.entry(ctx) else { return withEmpty(body) }
            return entry._withUnsafeGuaranteedRef { process in
                if process.args.isEmpty { return withEmpty(body) }
                if process.args.count == 1 { return process.args.withUTF8(0, body) }
                let args = process.args
                return ctx.withDerivedBytes(slot, process, capacity: args.utf8.count + args.count, { appendJoined(args, to: &$0) }, body)
            }
        }
    }

    /// Strings joined by one space, assembled in a scratch buffer per read (rare fields).
    static func joined(_ get: @escaping (EvalContext) -> StringList?) -> FieldAccessor {
        let scratch = ByteScratch()
        return .string { ctx, body in
            guard let values = get(ctx), !values.isEmpty else { return withEmpty(body) }
            if values.count == 1 { return values.withUTF8(0, body) }
            return scratch.write(capacity: values.utf8.count + values.count, { appendJoined(values, to: &$0) }, body)
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
    static func argOptions(_ slot: DerivedSlot, _ get: FieldProcess) -> FieldAccessor {
        .string { ctx, body in
            guard let entry = get.entry(ctx) else { return false }
            return entry._withUnsafeGuaranteedRef { process in
                let args = process.args
                if args.isEmpty { return false }
                // Each option is at most an argument, `=` and the next argument, then a NUL.
                return ctx.withDerivedBytes(slot, process, capacity: 2 * args.utf8.count + 2 * args.count, { appendOptions(args, to: &$0) }) { all in
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
                }
            }
        }
    }

    /// Writes the `args_options` of `args`, each followed by a NUL (see `argOptions`).
    @inline(__always)
    private static func appendOptions(_ args: StringList, to out: inout ByteWriter) {
        args.withStorage { bytes, ends in
            func element(_ i: Int) -> UnsafeBufferPointer<UInt8> {
                let start = i == 0 ? 0 : Int(ends[i - 1])
                return UnsafeBufferPointer(rebasing: bytes[start..<Int(ends[i])])
            }
            var i = 0
            while i < ends.count {
                let arg = element(i)
                guard arg.count > 1, arg[0] == 45 else { i += 1; continue }  // '-'
                let skip = arg[1] == 45 ? 2 : 1
                let name = UnsafeBufferPointer(rebasing: arg[skip...])
                guard let first = name.first, (first >= 48 && first <= 57) || (first >= 65 && first <= 90) || (first >= 97 && first <= 122) else {
                    i += 1
                    continue
                }
                if name.contains(61) {  // '='
                    out.append(name)
                    out.append(0)
                } else if i + 1 < ends.count, element(i + 1).first != 45 {
                    out.append(name)
                    out.append(61)
                    out.append(element(i + 1))
                    out.append(0)
                    i += 1
                }
                i += 1
            }
        }
    }
}

/// The process a group of fields is about (the event's, its parent, the current ancestor, a ptrace
/// tracee ...), read unretained: every process an evaluation reads is reachable from the event,
/// which stays unchanged while it is evaluated, and a retained reference cost an atomic retain and
/// release per field read (about 19 per exec event). The common sources are cases rather than
/// closures: one indirect call less per field read.
enum FieldProcess {
    case eventProcess
    case parent
    /// The ancestor the current iterator points at (`EvalContext.ancestor`).
    case ancestor
    /// A process carried by the event's payload.
    case payload((EvalContext) -> Unmanaged<ProcessEntry>?)

    @inline(__always)
    func entry(_ ctx: EvalContext) -> Unmanaged<ProcessEntry>? {
        switch self {
        case .eventProcess: return unretained(ctx.event.process)
        case .parent: return unretained(ctx.event.process?.parent)
        case .ancestor: return unretained(ctx.ancestor)
        case .payload(let read): return read(ctx)
        }
    }
}

/// `entry`, unretained (see `FieldProcess`).
@inline(__always)
func unretained(_ entry: ProcessEntry?) -> Unmanaged<ProcessEntry>? {
    entry.map { Unmanaged.passUnretained($0) }
}

/// `get` applied to the process `source` reads, or nil without one.
@inline(__always)
func withProcess<R>(_ source: FieldProcess, _ ctx: EvalContext, _ get: (ProcessEntry) -> R?) -> R? {
    guard let entry = source.entry(ctx) else { return nil }
    return entry._withUnsafeGuaranteedRef { get($0) }
}

/// Writes the strings of `values` joined by one space (at most `utf8.count + count` bytes).
@inline(__always)
func appendJoined(_ values: StringList, to out: inout ByteWriter) {
    values.withStorage { bytes, ends in
        var start = 0
        for (i, end) in ends.enumerated() {
            if i > 0 { out.append(32) }
            out.append(UnsafeBufferPointer(rebasing: bytes[start..<Int(end)]))
            start = Int(end)
        }
    }
}
