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

    /// Every string of an array.
    static func strings(_ get: @escaping (EvalContext) -> [String]?) -> FieldAccessor {
        .string { ctx, body in
            guard let values = get(ctx) else { return false }
            for v in values where withBytes(v, body) { return true }
            return false
        }
    }

    /// Strings joined by one space (`process.args`), assembled in a scratch buffer.
    static func joined(_ get: @escaping (EvalContext) -> [String]?) -> FieldAccessor {
        let scratch = ByteScratch()
        return .string { ctx, body in
            guard let values = get(ctx), !values.isEmpty else { return withEmpty(body) }
            if values.count == 1 { return withBytes(values[0], body) }
            scratch.bytes.removeAll(keepingCapacity: true)
            for (i, v) in values.enumerated() {
                if i > 0 { scratch.bytes.append(32) }
                scratch.bytes.append(contentsOf: v.utf8)
            }
            let bytes = scratch.bytes
            return bytes.withUnsafeBufferPointer(body)
        }
    }

    /// Environment variable names (`NAME` of each `NAME=value`).
    static func envNames(_ get: @escaping (EvalContext) -> [String]?) -> FieldAccessor {
        .string { ctx, body in
            guard let values = get(ctx) else { return false }
            for v in values {
                let name = v.firstIndex(of: "=").map { v[..<$0] } ?? v[...]
                if withBytes(name, body) { return true }
            }
            return false
        }
    }

    /// Datadog's `args_flags`: for `-abc` the letters and `abc`, for `--long` the name `long`;
    /// arguments carrying `=` are options, not flags.
    static func argFlags(_ get: @escaping (EvalContext) -> [String]?) -> FieldAccessor {
        .string { ctx, body in
            guard let args = get(ctx) else { return false }
            for arg in args {
                let found: Bool? = arg.utf8.withContiguousStorageIfAvailable { b -> Bool in
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
                if found == true { return true }
            }
            return false
        }
    }

    /// Datadog's `args_options`: `--name=value` gives `name=value`; `-o value` gives `o=value`.
    static func argOptions(_ get: @escaping (EvalContext) -> [String]?) -> FieldAccessor {
        let scratch = ByteScratch()
        return .string { ctx, body in
            guard let args = get(ctx) else { return false }
            var i = 0
            while i < args.count {
                let arg = args[i]
                var u = arg.utf8[...]
                guard u.count > 1, u.first == 45 else { i += 1; continue }
                u = u.dropFirst()
                if u.first == 45 { u = u.dropFirst() }
                guard let first = u.first, (first >= 48 && first <= 57) || (first >= 65 && first <= 90) || (first >= 97 && first <= 122) else {
                    i += 1
                    continue
                }
                if u.contains(61) {
                    scratch.bytes.removeAll(keepingCapacity: true)
                    scratch.bytes.append(contentsOf: u)
                    let bytes = scratch.bytes
                    if bytes.withUnsafeBufferPointer(body) { return true }
                } else if i + 1 < args.count, args[i + 1].utf8.first != 45 {
                    scratch.bytes.removeAll(keepingCapacity: true)
                    scratch.bytes.append(contentsOf: u)
                    scratch.bytes.append(61)
                    scratch.bytes.append(contentsOf: args[i + 1].utf8)
                    let bytes = scratch.bytes
                    if bytes.withUnsafeBufferPointer(body) { return true }
                    i += 1
                }
                i += 1
            }
            return false
        }
    }
}
