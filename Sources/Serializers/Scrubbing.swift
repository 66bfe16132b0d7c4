import AgentCore

/// What the serializer hides of processes' arguments and environments before a line leaves the
/// agent, as Datadog's agent does. One value that flags fill today and a configuration file can fill
/// later.
///
/// Scrubbing happens at serialization only: the rule engine reads the process tree's real values
/// (`process.args`, `process.envp`, ...), so a rule on a secret still fires while its line carries
/// `********` or the variable's name alone.
public struct ScrubbingSettings: Sendable, Equatable {
    /// Datadog's sensitive words: its data scrubber's defaults (`pkg/process/procutil`, non-Windows)
    /// and `*token*`, which its CWS probe adds (`newProcScrubber`).
    public static let defaultSensitiveWords = [
        "*password*", "*passwd*", "*mysql_pwd*", "*access_token*", "*auth_token*", "*api_key*", "*apikey*",
        "*secret*", "*credentials*", "stripetoken", "*token*",
    ]

    /// Variables whose values are kept: Datadog's `envs_with_value` defaults, and what rules read
    /// as values (`LD_AUDIT` and `HISTFILE` for their paths; Datadog's own policy matches
    /// `LD_PRELOAD=...` and `GLIBC_TUNABLES`).
    public static let defaultEnvsWithValue = [
        "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "PATH", "HISTFILE", "HISTSIZE", "HISTFILESIZE", "GLIBC_TUNABLES",
        "SSH_CLIENT", "DD_SERVICE", "OTEL_SERVICE_NAME", "CLAUDECODE", "RUNNER_TRACKING_ID",
    ]

    /// False writes arguments and environments as the kernel gave them (`--no-scrub`, for forensics).
    public var enabled: Bool
    /// Words whose values are replaced by `********` in arguments (Datadog's syntax: letters, digits,
    /// `_`, and `*` for any run of characters).
    public var sensitiveWords: [String]
    /// Environment variables written as `NAME=value`; every other one is written as its name.
    public var envsWithValue: [String]

    public init(enabled: Bool = true, sensitiveWords: [String] = Self.defaultSensitiveWords,
                envsWithValue: [String] = Self.defaultEnvsWithValue) {
        self.enabled = enabled
        self.sensitiveWords = sensitiveWords
        self.envsWithValue = envsWithValue
    }

    /// On, with the defaults.
    public static let `default` = ScrubbingSettings()
    /// Off: everything written as captured.
    public static let off = ScrubbingSettings(enabled: false)
}

/// A sensitive word that cannot be used, with why.
public struct ScrubbingWordError: Error, CustomStringConvertible, Equatable {
    public let word: String
    public let reason: String
    public var description: String { "sensitive word \"\(word)\": \(reason)" }
}

/// Replaces the values of sensitive arguments by `********`, with the matching rules of Datadog's
/// data scrubber.
///
/// Datadog joins the arguments with spaces and applies, per word, the regular expression
/// `( +| -{1,2})(?i)WORD( +|=|:)("[^"]*"|'[^']*'|[^\s]*)`, where a `*` of the word stands for
/// `[^\s=:$/]*` (`[^ =:]*` at its end), replacing the value. So a word matches at the start of an
/// argument (after one or two dashes, or anywhere inside an argument after a space), followed by
/// `=`, `:` or the end of the argument; in that last case the value is the next argument
/// (`--password hunter2`). Hence `--password=x`, `-password x`, `PASSWORD:x`, `api_key=x`,
/// `--db-password x` and `-Dkeystore.password=x` are scrubbed, and `--user=mypassword`, `-p x` and
/// `-phunter2` are not (Datadog has no `-p` rule: it is a port or a pid in most tools).
///
/// Differences, on purpose: the first argument (argv[1]) is matched like the others (Datadog's CWS
/// joins the arguments without argv0, so its first one is never preceded by a space and never
/// matches); arguments keep their boundaries (Datadog splits the joined line on spaces again, so an
/// argument holding spaces comes back as several); an empty value stays empty; letters are folded
/// as ASCII.
public struct ArgumentScrubber: Sendable {
    /// What replaces a value.
    public static let mask: [UInt8] = Array("********".utf8)

    /// One word: literals (lowercased) separated by `*`, with or without a `*` at each end.
    struct Pattern: Sendable {
        let literals: [[UInt8]]
        let leadingStar: Bool
        let trailingStar: Bool
        /// The longest literal: an argument list without it (in any case) cannot match.
        let fastCheck: [UInt8]
    }

    let patterns: [Pattern]

    /// Throws for a word Datadog would skip: characters other than letters, digits, `_` and `*`,
    /// `**`, or `*` alone.
    public init(words: [String]) throws {
        var patterns: [Pattern] = []
        for word in words {
            let bytes = Array(word.utf8)
            if bytes.isEmpty { throw ScrubbingWordError(word: word, reason: "empty") }
            for byte in bytes where !(Self.isWordByte(byte) || byte == UInt8(ascii: "*")) {
                throw ScrubbingWordError(word: word, reason: "only letters, digits, '_' and '*' are allowed")
            }
            if bytes.allSatisfy({ $0 == UInt8(ascii: "*") }) {
                throw ScrubbingWordError(word: word, reason: "a word of wildcards alone would scrub everything")
            }
            if word.contains("**") { throw ScrubbingWordError(word: word, reason: "two consecutive '*'") }
            let pieces = bytes.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false)
            let literals = pieces.filter { !$0.isEmpty }.map { $0.map(Self.lower) }
            patterns.append(Pattern(
                literals: literals, leadingStar: bytes.first == UInt8(ascii: "*"), trailingStar: bytes.last == UInt8(ascii: "*"),
                fastCheck: literals.max { $0.count < $1.count } ?? []))
        }
        self.patterns = patterns
    }

    /// The arguments with sensitive values replaced, or nil when nothing is to be replaced (the
    /// common case: then nothing is allocated).
    public func scrub(_ args: StringList) -> StringList? {
        if patterns.isEmpty || args.isEmpty { return nil }
        // Fast check on the packed bytes (no separators: a literal across two arguments is only a
        // false positive of this check, never a miss).
        let candidate = args.utf8.withUnsafeBufferPointer { bytes in
            patterns.contains { Self.containsFolded(bytes, $0.fastCheck) }
        }
        if !candidate { return nil }

        // The arguments as Datadog sees them, each preceded by a space; `starts[i]` is argument i's
        // first byte in `line`.
        var line: [UInt8] = []
        line.reserveCapacity(args.utf8.count + args.count)
        var starts: [Int] = []
        starts.reserveCapacity(args.count)
        args.withStorage { bytes, ends in
            var start = 0
            for end in ends {
                line.append(UInt8(ascii: " "))
                starts.append(line.count)
                line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<Int(end)]))
                start = Int(end)
            }
        }
        let masked = line.withUnsafeBufferPointer { valueRanges(in: $0) }
        if masked.isEmpty { return nil }

        // Rebuild each argument with the parts of it inside a value range replaced by the mask.
        var result = StringList()
        var rangeIndex = 0
        var piece: [UInt8] = []
        for i in 0..<args.count {
            let argStart = starts[i]
            let argEnd = i + 1 < args.count ? starts[i + 1] - 1 : line.count
            piece.removeAll(keepingCapacity: true)
            var position = argStart
            while rangeIndex < masked.count, masked[rangeIndex].lowerBound < argEnd {
                let range = masked[rangeIndex]
                let from = max(range.lowerBound, argStart)
                let to = min(range.upperBound, argEnd)
                if from < to {
                    piece.append(contentsOf: line[position..<from])
                    piece.append(contentsOf: Self.mask)
                    position = to
                }
                if range.upperBound <= argEnd { rangeIndex += 1 } else { break }
            }
            piece.append(contentsOf: line[position..<argEnd])
            // Cuts fall on ASCII bytes of valid UTF-8: the piece is valid UTF-8 too.
            result.append(String(decoding: piece, as: UTF8.self))
        }
        return result
    }

    /// The ranges of `line` (arguments each preceded by a space) holding sensitive values, in order,
    /// not overlapping, none empty.
    func valueRanges(in line: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        let count = line.count
        let lastDouble = line.lastIndex(of: UInt8(ascii: "\"")) ?? -1
        let lastSingle = line.lastIndex(of: UInt8(ascii: "'")) ?? -1
        var p = 0
        while p < count {
            guard line[p] == UInt8(ascii: " ") else { p += 1; continue }
            // A run of spaces, then the key (`( +| -{1,2})WORD`): it cannot start with a space.
            var q = p
            while q < count, line[q] == UInt8(ascii: " ") { q += 1 }
            p = q
            // The key holds no delimiter, so it ends at the first one.
            var d = q
            while d < count, !Self.isDelimiter(line[d]) { d += 1 }
            guard d < count, d > q, keyMatches(line, q, d) else { continue }
            // The delimiter: spaces (the value is the next argument), `=` or `:`.
            var v = d + 1
            if line[d] == UInt8(ascii: " ") {
                while v < count, line[v] == UInt8(ascii: " ") { v += 1 }
            }
            var end = v
            // A quoted value ends at its closing quote. The scan for it never goes past the last
            // quote of its kind, so that unclosed quotes cannot make the pass quadratic.
            let quote: UInt8 = v < count ? line[v] : 0
            let lastOfKind = quote == UInt8(ascii: "\"") ? lastDouble : quote == UInt8(ascii: "'") ? lastSingle : -1
            if lastOfKind > v, let close = (v + 1...lastOfKind).first(where: { line[$0] == quote }) {
                end = close + 1
            } else {
                while end < count, !Self.isSpace(line[end]) { end += 1 }
            }
            if end > v { ranges.append(v..<end) }
            p = max(end, d)
        }
        return ranges
    }

    /// True when `line[q..<d]`, or it without one or two leading dashes, is one of the words.
    private func keyMatches(_ line: UnsafeBufferPointer<UInt8>, _ q: Int, _ d: Int) -> Bool {
        for dashes in 0...2 {
            let start = q + dashes
            if dashes > 0 && (start >= d || line[start - 1] != UInt8(ascii: "-")) { break }
            let key = UnsafeBufferPointer(rebasing: line[start..<d])
            for pattern in patterns where Self.matches(pattern, key) { return true }
        }
        return false
    }

    /// Anchored match of `key` (which holds no ` `, `=` or `:`) against a word. A leading or inner
    /// `*` matches no whitespace, `$` or `/`; a trailing one matches the rest of the key. Literals are
    /// word characters, so everything before the trailing `*` lies before the first such character,
    /// where every `*` matches anything: there the leftmost placement of each literal decides.
    static func matches(_ pattern: Pattern, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        var limit = key.count
        for (index, byte) in key.enumerated() where isSpace(byte) || byte == UInt8(ascii: "$") || byte == UInt8(ascii: "/") {
            limit = index
            break
        }
        if !pattern.trailingStar && limit != key.count { return false }
        var position = 0
        let last = pattern.literals.count - 1
        for (index, literal) in pattern.literals.enumerated() {
            if index == 0 && !pattern.leadingStar {
                guard literal.count <= limit, equalFolded(key, 0, literal) else { return false }
                position = literal.count
            } else if index == last && !pattern.trailingStar {
                let at = limit - literal.count
                guard at >= position, equalFolded(key, at, literal) else { return false }
                position = limit
            } else {
                var at = position
                while at + literal.count <= limit, !equalFolded(key, at, literal) { at += 1 }
                guard at + literal.count <= limit else { return false }
                position = at + literal.count
            }
        }
        return pattern.trailingStar || position == key.count
    }

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    @inline(__always)
    static func equalFolded(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int, _ literal: [UInt8]) -> Bool {
        for (offset, byte) in literal.enumerated() where lower(bytes[at + offset]) != byte { return false }
        return true
    }

    static func containsFolded(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: [UInt8]) -> Bool {
        guard let first = literal.first, literal.count <= bytes.count else { return false }
        var at = 0
        let lastStart = bytes.count - literal.count
        while at <= lastStart {
            if lower(bytes[at]) == first && equalFolded(bytes, at, literal) { return true }
            at += 1
        }
        return false
    }

    static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
    }

    /// RE2's `\s`: space, tab, newline, form feed, carriage return.
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0C || byte == 0x0D
    }

    @inline(__always)
    static func isDelimiter(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: ":")
    }
}

/// Writes environments as Datadog's CWS does: each variable's name alone, but for the variables
/// listed, written as `NAME=value`. An entry without `=` is written as it is (it is a name).
public struct EnvironmentScrubber: Sendable {
    /// The names whose values are kept, as bytes.
    let names: [[UInt8]]
    /// Bit n set when a name of n bytes is listed (n < 64; longer names set bit 63): most names are
    /// ruled out by their length alone.
    let lengths: UInt64

    public init(envsWithValue: [String]) {
        names = envsWithValue.map { Array($0.utf8) }
        lengths = names.reduce(0) { $0 | (1 << UInt64(min($1.count, 63))) }
    }

    /// Calls `body` with what to write of each entry, in order: a slice of the entry's own bytes.
    /// Allocates nothing.
    public func forEach(_ envs: StringList, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        _ = envs.containsUTF8 { entry in
            guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else {
                body(entry)
                return false
            }
            let name = UnsafeBufferPointer(rebasing: entry[..<equals])
            body(keepsValue(name) ? entry : name)
            return false
        }
    }

    func keepsValue(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard lengths & (1 << UInt64(min(name.count, 63))) != 0 else { return false }
        for candidate in names where candidate.count == name.count {
            if candidate.withUnsafeBufferPointer({ $0.elementsEqual(name) }) { return true }
        }
        return false
    }
}

/// The scrubbers of one `ScrubbingSettings`, built once (words parsed) for a serializer.
struct Scrubbers: Sendable {
    let arguments: ArgumentScrubber
    let environment: EnvironmentScrubber

    init(_ settings: ScrubbingSettings) throws {
        arguments = try ArgumentScrubber(words: settings.sensitiveWords)
        environment = EnvironmentScrubber(envsWithValue: settings.envsWithValue)
    }
}
