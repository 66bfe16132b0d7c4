import Foundation

/// One entry of a string comparison's right-hand side.
enum StringOperand: Equatable {
    case exact(String)
    case pattern(String)
    case regex(String)
}

/// Matches a value against a compiled set of exact strings, patterns and regular expressions.
/// Built once per comparison; matching exact strings and globs allocates nothing.
final class StringMatcher {
    /// Exact strings grouped by byte length, so most values are rejected by one dictionary probe.
    private let exactByLength: [Int: [[UInt8]]]
    private let singleExact: [UInt8]?
    private let globs: [Glob]
    private let regexes: [NSRegularExpression]
    let isEmpty: Bool

    init(_ operands: [StringOperand], isPath: Bool) throws {
        var exact: [[UInt8]] = []
        var globs: [Glob] = []
        var regexes: [NSRegularExpression] = []
        for op in operands {
            switch op {
            case .exact(let s): exact.append(Array(s.utf8))
            case .pattern(let p):
                let g = Glob(p, isPath: isPath)
                if let e = g.exact { exact.append(e) } else { globs.append(g) }
            case .regex(let r):
                do {
                    regexes.append(try NSRegularExpression(pattern: r, options: []))
                } catch {
                    throw SECLError("invalid regular expression r\"\(r)\"")
                }
            }
        }
        var byLength: [Int: [[UInt8]]] = [:]
        for e in exact { byLength[e.count, default: []].append(e) }
        exactByLength = byLength
        singleExact = exact.count == 1 ? exact[0] : nil
        self.globs = globs
        self.regexes = regexes
        isEmpty = operands.isEmpty
    }

    @inline(__always)
    func matches(_ v: UnsafeBufferPointer<UInt8>) -> Bool {
        if let single = singleExact {
            if Glob.equal(v, 0, v.count, single) { return true }
        } else if !exactByLength.isEmpty, let candidates = exactByLength[v.count] {
            for c in candidates where Glob.equal(v, 0, v.count, c) { return true }
        }
        var i = 0
        while i < globs.count {
            if globs[i].matches(v) { return true }
            i += 1
        }
        if !regexes.isEmpty {
            // Regular expressions are rare (a handful of rules); they need a String.
            let s = String(decoding: v, as: UTF8.self)
            let range = NSRange(location: 0, length: (s as NSString).length)
            for r in regexes where r.firstMatch(in: s, options: [], range: range) != nil { return true }
        }
        return false
    }

    /// Convenience for tests.
    func matches(_ s: String) -> Bool { withBytes(s) { matches($0) } }
}
