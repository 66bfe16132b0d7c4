/// One entry of a string comparison's right-hand side.
enum StringOperand: Equatable {
    case exact(String)
    case pattern(String)
    case regex(String)
}

/// Matches a value against a compiled set of exact strings, patterns and regular expressions.
/// Built once per comparison; matching exact strings and globs allocates nothing.
final class StringMatcher {
    /// Exact strings in a hash table (one probe, no allocation).
    private let exactTable: BytesTable
    private let singleExact: [UInt8]?
    private let globs: [Glob]
    private let globRequired: [ByteSet]
    /// Regular expressions (Go RE2 syntax, like Datadog's), matched on the bytes without allocating.
    private let regexes: [ByteRegex]
    /// Per regex: a literal every match contains (empty: none known), checked before running it.
    private let regexLiterals: [[UInt8]]
    let isEmpty: Bool

    init(_ operands: [StringOperand], isPath: Bool) throws {
        var exact: [[UInt8]] = []
        var globs: [Glob] = []
        var regexes: [ByteRegex] = []
        var literals: [[UInt8]] = []
        for op in operands {
            switch op {
            case .exact(let s): exact.append(Array(s.utf8))
            case .pattern(let p):
                let g = Glob(p, isPath: isPath)
                if let e = g.exact { exact.append(e) } else { globs.append(g) }
            case .regex(let r):
                do {
                    regexes.append(try ByteRegex(r))
                    literals.append(StringMatcher.requiredLiteral(r))
                } catch let e as SECLError {
                    throw SECLError("\(e.message) in r\"\(r)\"")
                }
            }
        }
        exactTable = BytesTable(keys: exact.count > 1 ? exact : [])
        regexLiterals = literals
        singleExact = exact.count == 1 ? exact[0] : nil
        self.globs = globs
        globRequired = globs.map(\.requiredBytes)
        self.regexes = regexes
        isEmpty = operands.isEmpty
    }

    @inline(__always)
    func matches(_ v: UnsafeBufferPointer<UInt8>) -> Bool {
        if let single = singleExact {
            if Glob.equal(v, 0, v.count, single) { return true }
        } else if exactTable.contains(v) {
            return true
        }
        var i = 0
        if globs.count >= 4 {
            // Long pattern lists: skip the patterns needing a byte the value lacks.
            let present = ByteSet(of: v)
            while i < globs.count {
                if globRequired[i].isSubset(of: present), globs[i].matches(v) { return true }
                i += 1
            }
        } else {
            while i < globs.count {
                if globs[i].matches(v) { return true }
                i += 1
            }
        }
        if !regexes.isEmpty {
            // A regex runs only when the value contains the literal every match contains.
            var k = 0
            while k < regexes.count {
                if StringMatcher.contains(v, regexLiterals[k]), regexes[k].matches(v) { return true }
                k += 1
            }
        }
        return false
    }

    @inline(__always)
    static func contains(_ v: UnsafeBufferPointer<UInt8>, _ lit: [UInt8]) -> Bool {
        if lit.isEmpty { return true }
        if v.count < lit.count { return false }
        let first = lit[0]
        var i = 0
        while i + lit.count <= v.count {
            if v[i] == first, Glob.equal(v, i, i + lit.count, lit) { return true }
            i += 1
        }
        return false
    }

    /// The longest run of ASCII literal characters that every match of `pattern` contains, or empty
    /// when none is known. Conservative: only top-level characters (outside groups and classes) that
    /// no quantifier makes optional count, and any alternation or inline option gives up.
    static func requiredLiteral(_ pattern: String) -> [UInt8] {
        let p = Array(pattern.utf8)
        if p.contains(124) { return [] }  // '|'
        var best: [UInt8] = []
        var run: [UInt8] = []
        func flush() { if run.count > best.count { best = run }; run = [] }
        let meta: Set<UInt8> = Set(".^$*+?()[]{}|\\".utf8)
        var i = 0
        var depth = 0
        while i < p.count {
            let c = p[i]
            var literal: UInt8?
            var width = 1
            if c == 92 {  // backslash
                guard i + 1 < p.count else { return [] }
                let e = p[i + 1]
                width = 2
                let alnum = (e >= 48 && e <= 57) || (e >= 65 && e <= 90) || (e >= 97 && e <= 122)
                // Escapes that may swallow what follows (\Q..\E, \cX, \p{..}, \x41, \012): give up.
                if alnum && !"dDwWsSbBAZzGnrtfv".utf8.contains(e) { return [] }
                if !alnum && e < 128 && depth == 0 { literal = e }
            } else if c == 40 {  // (
                if i + 1 < p.count, p[i + 1] == 63 { return [] }  // (?...) options or lookaround
                depth += 1
            } else if c == 41 {
                depth -= 1
                if depth < 0 { return [] }
            } else if c == 91 {  // [ class: skip to its end
                var j = i + 1
                if j < p.count, p[j] == 94 { j += 1 }
                if j < p.count, p[j] == 93 { j += 1 }
                while j < p.count, p[j] != 93 {
                    if p[j] == 91 { return [] }  // nested set
                    if p[j] == 92 { j += 1 }
                    j += 1
                }
                if j >= p.count { return [] }
                width = j - i + 1
            } else if depth == 0, c < 128, !meta.contains(c) {
                literal = c
            }
            let next = i + width < p.count ? p[i + width] : 0
            let optional = next == 42 || next == 63 || next == 123  // * ? {
            if let l = literal, !optional {
                run.append(l)
                if next == 43 { flush() }  // x+ : x is required, what follows may not be adjacent
            } else {
                flush()
            }
            i += width
        }
        flush()
        return best
    }

    /// Convenience for tests.
    func matches(_ s: String) -> Bool { withBytes(s) { matches($0) } }
}
