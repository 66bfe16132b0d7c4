/// A regular-expression matcher over UTF-8 bytes with the syntax and boolean-match semantics of
/// RE2 / Go `regexp`, which is what Datadog Workload Protection rules are written for.
///
/// `init` parses the pattern and compiles it into a small instruction program; `matches` runs it
/// as a Pike VM (a Thompson NFA simulation): all live states advance in lockstep, one input byte
/// at a time, so a search costs O(input length × program length) and cannot go exponential the
/// way a backtracker does on `(a*)*b`. The program, the two state sets and the closure stack are
/// buffers allocated once in `init`, so `matches` allocates nothing. Because those buffers are
/// reused, one instance must be used by one thread at a time.
///
/// Matching is on runes, as in RE2, although the machine steps over bytes: `.`, negated classes
/// and `\D \W \S` consume one whole UTF-8 sequence (an invalid byte is one rune, as in Go), and a
/// search starts only at rune boundaries.
///
/// Supported: literals (non-ASCII ones as their UTF-8 bytes); escaped ASCII punctuation,
/// `\a \f \t \n \r \v`, `\xHH`, `\x{H...}`, octal `\0`, `\123`; `\Q...\E`; `.`; classes with ranges,
/// negation, escapes, `\d \D \w \W \s \S` and POSIX `[:name:]` / `[:^name:]`; groups `( )`,
/// `(?: )`, `(?P<name> )`, `(?<name> )`; alternation, empty branches included; `* + ?`, lazy
/// `*? +? ??`, `{n} {n,} {n,m}` with n, m <= 1000; `^ $ \A \z \b \B`; flags `i m s U` as
/// `(?flags)` (to the end of the enclosing group) or `(?flags:...)`, `-` clearing.
///
/// Throws `SECLError` for invalid syntax (as RE2 would) and for what is not supported:
/// backreferences, lookaround, atomic groups, `\C`, `\p` Unicode classes (RE2 has them),
/// non-ASCII characters inside `[...]` (RE2 allows them), a quantifier right after a flag group
/// (`a(?i)*`, which RE2 applies to the atom before the group), nesting over 200 levels (as SECL
/// expressions: three stack frames a level, which must fit any thread's stack), and
/// programs over 50,000 instructions (RE2's limit is larger).
///
/// Deviations from RE2: `(?i)` folds ASCII letters only (RE2 also folds é/É, and k/s with the
/// Kelvin sign and long s). A literal U+FFFD in the pattern matches its UTF-8 bytes only, where Go
/// would also match it against an invalid input byte.
final class ByteRegex {
    private enum Op: UInt8 { case byte, split, jump, assert, match }

    /// `byte`: consume a byte in set `x`; `split`: continue at `x` and `y`; `jump`: at `x`;
    /// `assert`: continue if assertion `x` holds at the current position; `match`: done.
    private struct Inst {
        var op: Op
        var x: Int32 = 0
        var y: Int32 = 0
    }

    /// Zero-width conditions. `rune1`...`rune4`: the rune starting here is that many bytes long
    /// (as Go decodes it), which lets `.` consume exactly one rune while stepping over bytes.
    private enum Assertion: Int32 {
        case beginText, endText, beginLine, endLine, wordBoundary, notWordBoundary
        case rune1, rune2, rune3, rune4
    }

    /// A set of bytes, 256 bits.
    private struct Bits: Hashable {
        var w = SIMD4<UInt64>(repeating: 0)
        init() {}
        init(_ lo: UInt8, _ hi: UInt8) { for b in lo...hi { insert(b) } }
        init(byte: UInt8) { insert(byte) }
        init(_ bytes: String) { for b in bytes.utf8 { insert(b) } }
        mutating func insert(_ b: UInt8) { w[Int(b >> 6)] |= 1 << UInt64(b & 63) }
        func contains(_ b: UInt8) -> Bool { w[Int(b >> 6)] >> UInt64(b & 63) & 1 != 0 }
        static func | (a: Bits, b: Bits) -> Bits { var r = a; r.w |= b.w; return r }
        /// The ASCII bytes not in the set (non-ASCII runes are tracked apart, see `Node.runeClass`).
        var asciiComplement: Bits { var r = Bits(); r.w = ~w & Bits(0, 127).w; return r }
        /// Closed under ASCII case folding.
        var folded: Bits {
            var r = self
            for b in UInt8(ascii: "A")...UInt8(ascii: "Z") where contains(b) || contains(b + 32) {
                r.insert(b); r.insert(b + 32)
            }
            return r
        }
    }

    private indirect enum Node {
        case empty
        case byteSet(Bits)
        /// One rune: an ASCII byte of the set, or any non-ASCII rune (negated classes, `.`).
        case runeClass(Bits)
        case assert(Assertion)
        case concat([Node])
        case alt([Node])
        /// `max` < 0: unbounded.
        case rep(Node, min: Int, max: Int)
    }

    private static let maxProgram = 50_000

    private let program: UnsafeMutablePointer<Inst>
    private let programCount: Int
    private let sets: UnsafeMutablePointer<Bits>
    private let setCount: Int
    private let stack: UnsafeMutablePointer<Int32>
    private let setA: SparseSet
    private let setB: SparseSet
    /// The pattern can only match at the start of the text: start no thread after position 0.
    private let anchored: Bool
    /// The bytes a match can begin with; nil when a match can be empty. No thread starts on any
    /// other byte, and while no thread is alive such bytes are skipped without running the machine.
    private let firstBytes: Bits?

    /// Compiles `pattern` (RE2 syntax). Throws `SECLError` on invalid or unsupported syntax.
    init(_ pattern: String) throws {
        var parser = Parser(bytes: Array(pattern.utf8))
        let node = try parser.parseAlternation()
        if parser.pos < parser.bytes.count { throw parser.error("unmatched )") }
        var compiler = Compiler()
        try compiler.compile(node)
        try compiler.emit(.match)
        programCount = compiler.insts.count
        program = .allocate(capacity: programCount)
        program.initialize(from: compiler.insts, count: programCount)
        setCount = compiler.sets.count
        sets = .allocate(capacity: max(setCount, 1))
        sets.initialize(from: compiler.sets, count: setCount)
        // Each pc enters a set at most once and pushes at most two successors.
        stack = .allocate(capacity: 2 * programCount + 2)
        setA = SparseSet(capacity: programCount)
        setB = SparseSet(capacity: programCount)
        anchored = Self.isAnchored(node)
        firstBytes = Self.firstBytes(compiler.insts, compiler.sets)
    }

    deinit {
        program.deallocate()
        sets.deinitialize(count: setCount)
        sets.deallocate()
        stack.deallocate()
        setA.free()
        setB.free()
    }

    /// True when the pattern matches somewhere in `v` (unanchored, like Go's `MatchString`).
    /// Allocates nothing; not safe to call from two threads at once on the same instance.
    func matches(_ v: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = v.count
        var clist = setA, nlist = setB
        clist.count = 0
        var i = 0
        var nextStart = 0  // the next rune boundary, where the implicit `.*?` prefix starts a thread
        while true {
            if i == nextStart {
                // A thread started on a byte no match begins with would die at once.
                let canBegin = firstBytes.map { i < n && $0.contains(v[i]) } ?? true
                if canBegin && (i == 0 || !anchored) && addThread(&clist, 0, i, v) { return true }
                if i < n { nextStart = i + Self.runeWidth(v, i) }
            }
            if i == n { return false }
            if clist.count == 0 {
                if anchored { return false }
                // Nothing alive: skip to the next rune boundary where a match can begin.
                i = nextStart
                if let first = firstBytes {
                    while i < n && !first.contains(v[i]) { i += Self.runeWidth(v, i) }
                    nextStart = i
                }
                continue
            }
            let b = v[i]
            nlist.count = 0
            var k = 0
            while k < clist.count {
                let pc = clist.dense[k]
                let inst = program[Int(pc)]
                if inst.op == .byte, sets[Int(inst.x)].contains(b), addThread(&nlist, pc + 1, i + 1, v) {
                    return true
                }
                k += 1
            }
            swap(&clist, &nlist)
            i += 1
        }
    }

    /// Adds `pc0` and everything reachable from it without consuming input (at position `i`) to
    /// `set`. Returns true as soon as the match instruction is reached.
    private func addThread(_ set: inout SparseSet, _ pc0: Int32, _ i: Int, _ v: UnsafeBufferPointer<UInt8>) -> Bool {
        stack[0] = pc0
        var sp = 1
        while sp > 0 {
            sp -= 1
            let pc = stack[sp]
            // Dedup by pc is sound for a yes/no answer: assertions depend only on the position.
            if set.contains(pc) { continue }
            set.insert(pc)
            let inst = program[Int(pc)]
            switch inst.op {
            case .match: return true
            case .byte: break
            case .jump: stack[sp] = inst.x; sp += 1
            case .split: stack[sp] = inst.y; stack[sp + 1] = inst.x; sp += 2
            case .assert:
                if Self.holds(Assertion(rawValue: inst.x)!, i, v) { stack[sp] = pc + 1; sp += 1 }
            }
        }
        return false
    }

    private static func holds(_ a: Assertion, _ i: Int, _ v: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = v.count
        switch a {
        case .beginText: return i == 0
        case .endText: return i == n
        case .beginLine: return i == 0 || v[i - 1] == 10
        case .endLine: return i == n || v[i] == 10
        case .wordBoundary, .notWordBoundary:
            let before = i > 0 && isWord(v[i - 1]), after = i < n && isWord(v[i])
            return (before != after) == (a == .wordBoundary)
        case .rune1, .rune2, .rune3, .rune4:
            return i < n && runeWidth(v, i) == Int(a.rawValue - Assertion.rune1.rawValue) + 1
        }
    }

    /// ASCII word characters, as RE2's `\b` uses.
    fileprivate static func isWord(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == 0x5F
    }

    /// Length of the rune at `i` as Go's utf8.DecodeRune sees it: an invalid or truncated
    /// sequence is a one-byte rune (U+FFFD).
    private static func runeWidth(_ v: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let b0 = v[i]
        let need: Int, lo: UInt8, hi: UInt8
        switch b0 {
        case 0xC2...0xDF: (need, lo, hi) = (2, 0x80, 0xBF)
        case 0xE0: (need, lo, hi) = (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE, 0xEF: (need, lo, hi) = (3, 0x80, 0xBF)
        case 0xED: (need, lo, hi) = (3, 0x80, 0x9F)  // no surrogates
        case 0xF0: (need, lo, hi) = (4, 0x90, 0xBF)
        case 0xF1...0xF3: (need, lo, hi) = (4, 0x80, 0xBF)
        case 0xF4: (need, lo, hi) = (4, 0x80, 0x8F)  // up to U+10FFFF
        default: return 1
        }
        if i + need > v.count || v[i + 1] < lo || v[i + 1] > hi { return 1 }
        for k in 2..<need where v[i + k] & 0xC0 != 0x80 { return 1 }
        return need
    }

    /// Union of the byte sets reachable from the start without consuming input, taking every
    /// assertion as true (an over-approximation, so skipping by it is safe).
    private static func firstBytes(_ insts: [Inst], _ sets: [Bits]) -> Bits? {
        var result = Bits(), seen = Set<Int32>(), todo: [Int32] = [0]
        while let pc = todo.popLast() {
            guard seen.insert(pc).inserted else { continue }
            let inst = insts[Int(pc)]
            switch inst.op {
            case .match: return nil
            case .byte: result = result | sets[Int(inst.x)]
            case .jump: todo.append(inst.x)
            case .split: todo += [inst.x, inst.y]
            case .assert: todo.append(pc + 1)
            }
        }
        return result
    }

    private static func isAnchored(_ node: Node) -> Bool {
        switch node {
        case .assert(let a): return a == .beginText
        case .concat(let nodes): return nodes.first.map(isAnchored) ?? false
        case .alt(let nodes): return nodes.allSatisfy(isAnchored)
        default: return false
        }
    }

    /// A set of program counters with O(1) insert, lookup and clear (Briggs & Torczon).
    private struct SparseSet {
        let dense: UnsafeMutablePointer<Int32>
        let sparse: UnsafeMutablePointer<Int32>
        var count = 0
        init(capacity: Int) {
            (dense, sparse) = (.allocate(capacity: capacity), .allocate(capacity: capacity))
            dense.initialize(repeating: 0, count: capacity)
            sparse.initialize(repeating: 0, count: capacity)
        }
        func contains(_ pc: Int32) -> Bool {
            let s = Int(sparse[Int(pc)])
            return s < count && dense[s] == pc
        }
        mutating func insert(_ pc: Int32) {
            sparse[Int(pc)] = Int32(count)
            dense[count] = pc
            count += 1
        }
        func free() { dense.deallocate(); sparse.deallocate() }
    }

    // MARK: - Compiling

    private struct Compiler {
        var insts: [Inst] = []
        var sets: [Bits] = []
        var setIDs: [Bits: Int32] = [:]
        var here: Int32 { Int32(insts.count) }

        @discardableResult
        mutating func emit(_ op: Op, _ x: Int32 = 0, _ y: Int32 = 0) throws -> Int {
            guard insts.count < ByteRegex.maxProgram else { throw SECLError("regular expression too large") }
            insts.append(Inst(op: op, x: x, y: y))
            return insts.count - 1
        }

        mutating func setID(_ s: Bits) -> Int32 {
            if let id = setIDs[s] { return id }
            sets.append(s)
            setIDs[s] = Int32(sets.count - 1)
            return Int32(sets.count - 1)
        }

        mutating func compile(_ node: Node) throws {
            switch node {
            case .empty: break
            case .byteSet(let s): try emit(.byte, setID(s))
            case .assert(let a): try emit(.assert, a.rawValue)
            case .concat(let nodes): for n in nodes { try compile(n) }
            case .runeClass(let ascii):
                // Branch on the length of the rune here; the assertion has checked its bytes.
                let high = Node.byteSet(Bits(0x80, 0xFF))
                try compile(.alt([
                    .concat([.assert(.rune1), .byteSet(ascii | Bits(0x80, 0xFF))]),
                    .concat([.assert(.rune2), high, high]),
                    .concat([.assert(.rune3), high, high, high]),
                    .concat([.assert(.rune4), high, high, high, high]),
                ]))
            case .alt(let nodes):
                var jumps: [Int] = []
                for n in nodes.dropLast() {
                    let split = try emit(.split, here + 1)
                    try compile(n)
                    jumps.append(try emit(.jump))
                    insts[split].y = here
                }
                try compile(nodes[nodes.count - 1])
                for j in jumps { insts[j].x = here }
            case .rep(let sub, min: let min, max: let max) where max < 0:
                if min == 0 {
                    let split = try emit(.split, here + 1)
                    try compile(sub)
                    try emit(.jump, Int32(split))
                    insts[split].y = here
                } else {
                    for _ in 1..<min { try compile(sub) }
                    let start = here
                    try compile(sub)
                    try emit(.split, start, here + 1)
                }
            case .rep(let sub, min: let min, max: let max):
                // x{2,4} = x x (x (x)?)?: each optional copy may skip to the end.
                for _ in 0..<min { try compile(sub) }
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(try emit(.split, here + 1))
                    try compile(sub)
                }
                for s in splits { insts[s].y = here }
            }
        }
    }

    // MARK: - Parsing

    private struct Parser {
        let bytes: [UInt8]
        var pos = 0
        var fold = false, multiLine = false, dotNL = false
        var depth = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func peek(_ k: Int = 0) -> UInt8? { pos + k < bytes.count ? bytes[pos + k] : nil }
        func error(_ message: String) -> SECLError {
            SECLError("invalid regular expression: \(message) at offset \(pos)")
        }

        /// Alternatives up to a `)` or the end (neither consumed).
        mutating func parseAlternation() throws -> Node {
            var branches: [Node] = []
            var items: [Node] = []
            var canRepeat = false, repeated = false
            while let c = peek(), c != UInt8(ascii: ")") {
                if c == UInt8(ascii: "|") {
                    branches.append(items.count == 1 ? items[0] : .concat(items))
                    items = []
                    canRepeat = false
                    pos += 1
                } else if let q = try parseQuantifier() {
                    if repeated { throw error("invalid nested repetition operator") }
                    guard canRepeat, let last = items.popLast() else { throw error("missing argument to repetition operator") }
                    items.append(.rep(last, min: q.0, max: q.1))
                    repeated = true
                    continue
                } else if c == UInt8(ascii: "\\"), peek(1) == UInt8(ascii: "Q") {
                    // \Q...\E: literals, each its own atom (a quantifier after applies to the last).
                    pos += 2
                    while pos < bytes.count {
                        if bytes[pos] == UInt8(ascii: "\\"), peek(1) == UInt8(ascii: "E") { pos += 2; break }
                        items.append(literalRune())
                        canRepeat = true
                    }
                } else if let atom = try parseAtom() {
                    items.append(atom)
                    canRepeat = true
                } else {
                    canRepeat = false  // a flag group is nothing to repeat
                }
                repeated = false
            }
            branches.append(items.count == 1 ? items[0] : .concat(items))
            return branches.count == 1 ? branches[0] : .alt(branches)
        }

        /// `* + ? {n} {n,} {n,m}` with an optional lazy `?` (same yes/no answer as greedy), or nil
        /// if there is none here; a `{` that does not form a count is a literal, as in RE2.
        mutating func parseQuantifier() throws -> (Int, Int)? {
            var q: (Int, Int)
            switch peek() {
            case UInt8(ascii: "*"): q = (0, -1); pos += 1
            case UInt8(ascii: "+"): q = (1, -1); pos += 1
            case UInt8(ascii: "?"): q = (0, 1); pos += 1
            case UInt8(ascii: "{"):
                var k = pos + 1
                guard let lo = number(&k) else { return nil }
                var hi = lo
                if k < bytes.count, bytes[k] == UInt8(ascii: ",") {
                    k += 1
                    if k < bytes.count, bytes[k] == UInt8(ascii: "}") { hi = -1 } else {
                        guard let h = number(&k) else { return nil }
                        hi = h
                    }
                }
                guard k < bytes.count, bytes[k] == UInt8(ascii: "}") else { return nil }
                if lo > 1000 || hi > 1000 || (hi >= 0 && lo > hi) { throw error("invalid repeat count") }
                q = (lo, hi)
                pos = k + 1
            default: return nil
            }
            if peek() == UInt8(ascii: "?") { pos += 1 }
            return q
        }

        /// Decimal digits at `k` (no leading zero unless alone, as in Go), capped to stay in range.
        func number(_ k: inout Int) -> Int? {
            let start = k
            var n = 0
            while k < bytes.count, bytes[k] >= 0x30, bytes[k] <= 0x39 {
                n = min(n * 10 + Int(bytes[k] - 0x30), 100_000)
                k += 1
            }
            if k == start || (bytes[start] == 0x30 && k - start > 1) { return nil }
            return n
        }

        /// One atom, or nil for a flag group such as `(?i)`.
        mutating func parseAtom() throws -> Node? {
            switch bytes[pos] {
            case UInt8(ascii: "("): return try parseGroup()
            case UInt8(ascii: "["): return try parseClass()
            case UInt8(ascii: "."):
                pos += 1
                return .runeClass(dotNL ? Bits(0, 127) : Bits("\n").asciiComplement)
            case UInt8(ascii: "^"): pos += 1; return .assert(multiLine ? .beginLine : .beginText)
            case UInt8(ascii: "$"): pos += 1; return .assert(multiLine ? .endLine : .endText)
            case UInt8(ascii: "\\"):
                pos += 1
                switch peek() {
                case UInt8(ascii: "A"): pos += 1; return .assert(.beginText)
                case UInt8(ascii: "z"): pos += 1; return .assert(.endText)
                case UInt8(ascii: "b"): pos += 1; return .assert(.wordBoundary)
                case UInt8(ascii: "B"): pos += 1; return .assert(.notWordBoundary)
                default:
                    if let c = try perlClass() { return classNode(c.negated ? c.set.asciiComplement : c.set, c.negated) }
                    return literal(try parseEscape())
                }
            default: return literalRune()
            }
        }

        /// The pattern rune at `pos` (a whole UTF-8 sequence, so a quantifier applies to all of it).
        mutating func literalRune() -> Node {
            let c = bytes[pos]
            guard c >= 0x80 else { pos += 1; return literalByte(c) }
            let width = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2  // the pattern is a Swift String: valid UTF-8
            defer { pos += width }
            return .concat(bytes[pos..<pos + width].map { .byteSet(Bits(byte: $0)) })
        }

        func literalByte(_ c: UInt8) -> Node { .byteSet(fold ? Bits(byte: c).folded : Bits(byte: c)) }

        func literal(_ r: UInt32) -> Node {
            if r < 0x80 { return literalByte(UInt8(r)) }
            // A surrogate (\x{D800}) is valid syntax in Go but no input rune decodes to it.
            guard let scalar = Unicode.Scalar(r) else { return .byteSet(Bits()) }
            return .concat(String(scalar).utf8.map { .byteSet(Bits(byte: $0)) })
        }

        func classNode(_ ascii: Bits, _ nonASCII: Bool) -> Node {
            nonASCII ? .runeClass(ascii) : .byteSet(ascii)
        }

        /// `\d \w \s` and their negations (at `pos`, just after the backslash), ASCII as in RE2.
        mutating func perlClass() throws -> (set: Bits, negated: Bool)? {
            guard let c = peek() else { return nil }
            let set: Bits
            switch c | 0x20 {
            case UInt8(ascii: "d"): set = Bits(0x30, 0x39)
            case UInt8(ascii: "w"): set = Bits(0x30, 0x39) | Bits(0x41, 0x5A) | Bits(0x61, 0x7A) | Bits("_")
            case UInt8(ascii: "s"): set = Bits("\t\n\u{0C}\r ")
            case UInt8(ascii: "p"): throw error("Unicode classes \\p are not supported")
            default: return nil
            }
            pos += 1
            return (set, c < 0x61)
        }

        /// The character after a backslash (at `pos`), outside or inside a class.
        mutating func parseEscape() throws -> UInt32 {
            guard let c = peek() else { throw error("trailing backslash") }
            pos += 1
            func octal(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x37 } ?? false }
            func hex(_ b: UInt8?) -> UInt32? {
                guard let b else { return nil }
                switch b {
                case 0x30...0x39: return UInt32(b - 0x30)
                case 0x41...0x46, 0x61...0x66: return UInt32(b | 0x20) - 0x61 + 10
                default: return nil
                }
            }
            switch c {
            case 0x31...0x39 where !octal(peek()) || c > 0x37:
                throw error("backreferences are not supported")
            case 0x30...0x37:  // octal: \0, \0NN, \NN, \NNN
                var r = UInt32(c - 0x30)
                for _ in 0..<2 where octal(peek()) { r = r * 8 + UInt32(bytes[pos] - 0x30); pos += 1 }
                return r
            case UInt8(ascii: "x"):
                if peek() == UInt8(ascii: "{") {
                    pos += 1
                    var r: UInt32 = 0, digits = 0
                    while let h = hex(peek()) {
                        r = r * 16 + h; digits += 1; pos += 1
                        if r > 0x10FFFF { throw error("invalid escape \\x{...}") }
                    }
                    guard digits > 0, peek() == UInt8(ascii: "}") else { throw error("invalid escape \\x{...}") }
                    pos += 1
                    return r
                }
                guard let h1 = hex(peek()), let h2 = hex(peek(1)) else { throw error("invalid escape \\x") }
                pos += 2
                return h1 * 16 + h2
            default:
                if let k = Array("afnrtv".utf8).firstIndex(of: c) { return [7, 12, 10, 13, 9, 11][k] }
                // Any ASCII punctuation (space included) stands for itself; letters and digits
                // without a meaning above are errors in RE2 (\C, \Z, \G, \K, \8...).
                if c < 0x80 && (!ByteRegex.isWord(c) || c == UInt8(ascii: "_")) { return UInt32(c) }
                pos -= 1
                throw error("invalid or unsupported escape")
            }
        }

        mutating func parseGroup() throws -> Node? {
            let saved = (fold, multiLine, dotNL)
            pos += 1
            if peek() == UInt8(ascii: "?") {
                pos += 1
                let named = peek() == UInt8(ascii: "<") ? 1 : (peek() == UInt8(ascii: "P") && peek(1) == UInt8(ascii: "<")) ? 2 : 0
                if named > 0, peek(named) != UInt8(ascii: "="), peek(named) != UInt8(ascii: "!") {
                    // A named capture: capturing does not matter for a yes/no answer.
                    pos += named
                    let start = pos
                    while let c = peek(), ByteRegex.isWord(c) { pos += 1 }
                    guard pos > start, peek() == UInt8(ascii: ">") else { throw error("invalid named capture") }
                    pos += 1
                } else {
                    var on = true, sawFlag = false
                    flags: while true {
                        guard let c = peek() else { throw error("missing closing )") }
                        pos += 1
                        switch c {
                        case UInt8(ascii: "i"): fold = on; sawFlag = true
                        case UInt8(ascii: "m"): multiLine = on; sawFlag = true
                        case UInt8(ascii: "s"): dotNL = on; sawFlag = true
                        case UInt8(ascii: "U"): sawFlag = true  // ungreedy: same yes/no answer
                        case UInt8(ascii: "-") where on: on = false; sawFlag = false
                        case UInt8(ascii: ":"), UInt8(ascii: ")"):
                            if !on && !sawFlag { throw error("invalid flags") }
                            if c == UInt8(ascii: ")") { return nil }  // flags last to the end of the group
                            break flags
                        case UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "<"):
                            throw error("lookaround is not supported")
                        case UInt8(ascii: "P"):
                            throw error("backreferences and recursion are not supported")
                        default:
                            throw error("invalid or unsupported group syntax")
                        }
                    }
                }
            }
            depth += 1
            if depth > 200 { throw error("nesting too deep") }
            let inner = try parseAlternation()
            guard peek() == UInt8(ascii: ")") else { throw error("missing closing )") }
            pos += 1
            depth -= 1
            (fold, multiLine, dotNL) = saved
            return inner
        }

        mutating func parseClass() throws -> Node {
            pos += 1
            var ascii = Bits(), nonASCII = false
            let negate = peek() == UInt8(ascii: "^")
            if negate { pos += 1 }
            // Folding each item before its own negation, as RE2 does: (?i)[[:^lower:]] has no letters.
            func add(_ s: Bits, _ negated: Bool) {
                let f = fold ? s.folded : s
                ascii = ascii | (negated ? f.asciiComplement : f)
                if negated { nonASCII = true }
            }
            var first = true
            while true {
                guard let c = peek() else { throw error("missing closing ]") }
                if c == UInt8(ascii: "]") && !first { pos += 1; break }
                first = false
                if c == UInt8(ascii: "["), peek(1) == UInt8(ascii: ":"), let posix = try posixClass() {
                    add(posix.0, posix.1)
                    continue
                }
                if c == UInt8(ascii: "\\") {
                    pos += 1
                    if let c = try perlClass() { add(c.set, c.negated); continue }
                    pos -= 1
                }
                let lo = try classChar()
                var hi = lo
                if peek() == UInt8(ascii: "-"), let next = peek(1), next != UInt8(ascii: "]") {
                    pos += 1
                    hi = try classChar()
                    if hi < lo { throw error("invalid character class range") }
                }
                add(Bits(lo, hi), false)
            }
            return negate ? classNode(ascii.asciiComplement, !nonASCII) : classNode(ascii, nonASCII)
        }

        mutating func classChar() throws -> UInt8 {
            var r = UInt32(bytes[pos])
            pos += 1
            if r == 0x5C { r = try parseEscape() }  // backslash
            if r >= 0x80 { throw error("non-ASCII characters in classes are not supported") }
            return UInt8(r)
        }

        /// `[:name:]` or `[:^name:]` at `pos`; nil when there is no closing `:]` (then `[` is literal).
        mutating func posixClass() throws -> (Bits, Bool)? {
            var end = pos + 2
            while end + 1 < bytes.count, !(bytes[end] == UInt8(ascii: ":") && bytes[end + 1] == UInt8(ascii: "]")) { end += 1 }
            guard end + 1 < bytes.count else { return nil }
            var name = String(decoding: bytes[pos + 2..<end], as: UTF8.self)
            let negated = name.hasPrefix("^")
            if negated { name.removeFirst() }
            let digit = Bits(0x30, 0x39), upper = Bits(0x41, 0x5A), lower = Bits(0x61, 0x7A)
            let punct = Bits(0x21, 0x2F) | Bits(0x3A, 0x40) | Bits(0x5B, 0x60) | Bits(0x7B, 0x7E)
            let set: Bits
            switch name {
            case "alnum": set = digit | upper | lower
            case "alpha": set = upper | lower
            case "ascii": set = Bits(0, 0x7F)
            case "blank": set = Bits("\t ")
            case "cntrl": set = Bits(0, 0x1F) | Bits(0x7F, 0x7F)
            case "digit": set = digit
            case "graph": set = Bits(0x21, 0x7E)
            case "lower": set = lower
            case "print": set = Bits(0x20, 0x7E)
            case "punct": set = punct
            case "space": set = Bits("\t\n\u{0B}\u{0C}\r ")
            case "upper": set = upper
            case "word": set = digit | upper | lower | Bits("_")
            case "xdigit": set = digit | Bits(0x41, 0x46) | Bits(0x61, 0x66)
            default: throw error("invalid character class name [:\(name):]")
            }
            pos = end + 2
            return (set, negated)
        }
    }
}
