/// A compiled `~"..."` pattern.
///
/// Outside paths `*` matches any run of characters. On path fields the pattern is matched segment by
/// segment as Datadog does: `*` stays inside one segment (and does not match an empty one on its own),
/// `**` as a whole segment matches one or more segments (zero when followed by `/`), and a leading
/// `*/` stands for the first segment after the root. `\*` is a literal star.
public final class Glob: @unchecked Sendable {
    /// One piece of a segment pattern.
    enum Piece: Sendable, Equatable {
        case literal([UInt8])
        case star
    }

    enum Segment: Sendable {
        /// `loneStar`: the segment is exactly `*` (it then needs a non-empty segment).
        case pieces([Piece], loneStar: Bool)
        case doubleStar
    }

    let pattern: String
    let isPath: Bool
    /// Non-path form: the pieces of the whole pattern.
    let pieces: [Piece]
    /// Path form.
    let segments: [Segment]
    let leadingStarSegment: Bool
    /// Exact match when the pattern has no wildcard.
    let exact: [UInt8]?
    /// Literal text before the first wildcard and after the last one: cheap necessary conditions.
    let prefix: [UInt8]
    let suffix: [UInt8]
    /// Bytes every match contains (the literal pieces), as a 256-bit set: a value lacking one of
    /// them cannot match. See `ByteSet`.
    let requiredBytes: ByteSet
    /// The longest literal piece: every match contains it (used to index patterns that start with a
    /// wildcard, see `LiteralIndex`).
    let longestLiteral: [UInt8]

    public init(_ pattern: String, isPath: Bool) {
        self.pattern = pattern
        self.isPath = isPath
        let bytes = Array(pattern.utf8)
        let all = Glob.pieces(of: bytes[...], keepingDoubleStar: false)
        pieces = all
        if all.allSatisfy({ if case .literal = $0 { return true } else { return false } }) {
            exact = all.reduce(into: [UInt8]()) { acc, p in if case .literal(let l) = p { acc += l } }
        } else {
            exact = nil
        }
        var segs: [Segment] = []
        if isPath {
            for part in bytes.split(separator: 47, omittingEmptySubsequences: false) {
                if part.elementsEqual([42, 42]) {
                    segs.append(.doubleStar)
                } else {
                    let ps = Glob.pieces(of: part, keepingDoubleStar: false)
                    segs.append(.pieces(ps, loneStar: ps == [.star]))
                }
            }
        }
        segments = segs
        var pre: [UInt8] = []
        var suf: [UInt8] = []
        if case .literal(let l)? = all.first { pre = l }
        if all.count > 1, case .literal(let l)? = all.last { suf = l }
        prefix = pre
        suffix = suf
        var required = ByteSet()
        for p in all { if case .literal(let l) = p { for b in l { required.insert(b) } } }
        requiredBytes = required
        var longest: [UInt8] = []
        for p in all { if case .literal(let l) = p, l.count > longest.count { longest = l } }
        longestLiteral = longest
        if isPath, let first = segs.first, case .pieces(_, true) = first {
            leadingStarSegment = true
        } else {
            leadingStarSegment = false
        }
    }

    private static func pieces(of bytes: ArraySlice<UInt8>, keepingDoubleStar: Bool) -> [Piece] {
        var result: [Piece] = []
        var literal: [UInt8] = []
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            if c == 92, i + 1 < bytes.endIndex, bytes[i + 1] == 42 {
                literal.append(42)
                i += 2
                continue
            }
            if c == 42 {
                if !literal.isEmpty { result.append(.literal(literal)); literal = [] }
                if result.last != .star { result.append(.star) }
            } else {
                literal.append(c)
            }
            i += 1
        }
        if !literal.isEmpty { result.append(.literal(literal)) }
        return result
    }

    /// Matches a whole value.
    @inline(__always)
    public func matches(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        if let exact {
            return Glob.equal(value, 0, value.count, exact)
        }
        // In paths `/**/` may match a single `/`, so prefix and suffix can overlap by one byte.
        if value.count < (isPath ? max(prefix.count, suffix.count) : prefix.count + suffix.count) { return false }
        if !prefix.isEmpty, !Glob.equal(value, 0, prefix.count, prefix) { return false }
        if !suffix.isEmpty, !Glob.equal(value, value.count - suffix.count, value.count, suffix) { return false }
        if !isPath { return Glob.matchPieces(pieces[...], value, 0, value.count) }
        var start = 0
        if leadingStarSegment, value.count > 0, value[0] == 47 {
            start = 1
        }
        if value.isEmpty { return false }
        return matchSegments(0, value, start)
    }

    /// Convenience for tests and offline use.
    public func matches(_ value: String) -> Bool {
        var copy = value
        return copy.withUTF8 { matches($0) }
    }

    @inline(__always)
    static func equal(_ v: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int, _ lit: [UInt8]) -> Bool {
        guard to - from == lit.count else { return false }
        if lit.isEmpty { return true }
        var i = 0
        while i < lit.count {
            if v[from + i] != lit[i] { return false }
            i += 1
        }
        return true
    }

    /// Classic wildcard match of `pieces` against v[from..<to] (star = any run), linear backtracking.
    static func matchPieces(_ pieces: ArraySlice<Piece>, _ v: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Bool {
        var pi = pieces.startIndex
        var pos = from
        var starPiece = -1
        var starPos = 0
        while true {
            if pi == pieces.endIndex {
                if pos == to { return true }
            } else {
                switch pieces[pi] {
                case .star:
                    starPiece = pi
                    starPos = pos
                    pi += 1
                    continue
                case .literal(let lit):
                    if pi == pieces.endIndex - 1, starPiece >= 0 {
                        // Last literal after a star: it must be the suffix.
                        return to - pos >= lit.count && equal(v, to - lit.count, to, lit)
                    }
                    if to - pos >= lit.count, equal(v, pos, pos + lit.count, lit) {
                        pos += lit.count
                        pi += 1
                        continue
                    }
                }
            }
            // Backtrack: let the last star swallow one more byte.
            guard starPiece >= 0, starPos < to else { return false }
            starPos += 1
            pos = starPos
            pi = starPiece + 1
        }
    }

    private func matchSegments(_ si: Int, _ v: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Bool {
        // pos == v.count + 1 means every segment of the value was consumed.
        let consumed = pos > v.count
        if si == segments.count { return consumed }
        if consumed { return false }
        var segEnd = pos
        while segEnd < v.count, v[segEnd] != 47 { segEnd += 1 }
        let nextPos = segEnd + 1
        switch segments[si] {
        case .doubleStar:
            if si == segments.count - 1 {
                return v.count - pos > 0
            }
            // Zero segments when followed by more segments.
            if matchSegments(si + 1, v, pos) { return true }
            var p = nextPos
            while p <= v.count {
                if matchSegments(si + 1, v, p) { return true }
                var e = p
                while e < v.count, v[e] != 47 { e += 1 }
                p = e + 1
            }
            return false
        case .pieces(let pieces, let loneStar):
            if loneStar { return segEnd > pos && matchSegments(si + 1, v, nextPos) }
            guard Glob.matchPieces(pieces[...], v, pos, segEnd) else { return false }
            return matchSegments(si + 1, v, nextPos)
        }
    }
}

/// A set of byte values (256 bits).
struct ByteSet: Sendable, Equatable {
    var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0

    @inline(__always)
    mutating func insert(_ x: UInt8) {
        let bit: UInt64 = 1 << UInt64(x & 63)
        switch x >> 6 {
        case 0: a |= bit
        case 1: b |= bit
        case 2: c |= bit
        default: d |= bit
        }
    }

    @inline(__always)
    init() {}

    @inline(__always)
    init(of v: UnsafeBufferPointer<UInt8>) {
        var i = 0
        while i < v.count { insert(v[i]); i += 1 }
    }

    /// True when every byte of `self` is in `other`.
    @inline(__always)
    func isSubset(of other: ByteSet) -> Bool {
        (a & ~other.a) | (b & ~other.b) | (c & ~other.c) | (d & ~other.d) == 0
    }
}
