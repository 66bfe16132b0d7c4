import AgentCore
import ArgumentParser
import Foundation
import Glibc
import Yams

/// A configuration file that cannot be used: one line naming the file, the line and the key.
struct ConfigError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// The agent's configuration file (`/etc/csm-agent/csm-agent.yaml`, or `--config FILE`).
///
/// Every key stands for one of `run`'s flags (the table `keys`), so that the file and the command
/// line cannot drift apart: a setting becomes the flag's arguments, validated by the flag's own
/// checks, and a flag given on the command line overrides the file's setting (for a repeatable flag,
/// the command line's values replace the file's). Unknown keys are warnings; a wrong type or value is
/// an error naming the file, the line and the key.
struct AgentConfigFile {
    /// Read when it exists and no `--config` is given.
    static let defaultPath = "/etc/csm-agent/csm-agent.yaml"
    /// A configuration is a few hundred bytes; anything near this is not one.
    static let maxBytes = 1 << 20

    enum Kind {
        /// One value: `key: VALUE` is `--flag VALUE`.
        case string
        /// A path, relative to the configuration file's directory.
        case path
        /// A list (or a single value): one `--flag VALUE` per item.
        case strings
        /// A list of paths, each relative to the configuration file's directory unless `default`.
        case paths
        /// `true` is `--flag`, `false` nothing.
        case flag
        /// `false` is `--flag` (for `--no-…` flags), `true` nothing.
        case invertedFlag
        /// An integer: `--flag N`.
        case integer
    }

    struct Key {
        /// The key's place in the file: `["log", "level"]` is `log: {level: …}`.
        var path: [String]
        var option: String
        var kind: Kind
        var name: String { path.joined(separator: ".") }
    }

    /// Every key the file may hold, and the flag each stands for.
    static let keys: [Key] = [
        Key(path: ["policies"], option: "--policy", kind: .paths),
        Key(path: ["policy_dirs"], option: "--policy-dir", kind: .paths),
        Key(path: ["all_events"], option: "--all-events", kind: .flag),
        Key(path: ["agent_version"], option: "--agent-version", kind: .string),
        Key(path: ["bpf_object"], option: "--bpf-object", kind: .path),
        Key(path: ["log", "level"], option: "--log-level", kind: .string),
        Key(path: ["log", "format"], option: "--log-format", kind: .string),
        Key(path: ["scrubbing", "enabled"], option: "--no-scrub", kind: .invertedFlag),
        Key(path: ["scrubbing", "words"], option: "--scrub-word", kind: .strings),
        Key(path: ["scrubbing", "envs_with_value"], option: "--env-with-value", kind: .strings),
        Key(path: ["rate_limit", "rate"], option: "--rate-limit", kind: .integer),
        Key(path: ["rate_limit", "burst"], option: "--rate-limit-burst", kind: .integer),
        Key(path: ["metrics", "listen"], option: "--metrics-listen", kind: .string),
        Key(path: ["metrics", "allow_remote"], option: "--metrics-allow-remote", kind: .flag),
        Key(path: ["metrics", "textfile"], option: "--metrics-textfile", kind: .path),
        Key(path: ["outputs"], option: "--output", kind: .strings),
        Key(path: ["output", "format"], option: "--format", kind: .string),
        Key(path: ["output", "max_size"], option: "--output-max-size", kind: .integer),
        Key(path: ["output", "max_files"], option: "--output-max-files", kind: .integer),
    ]

    /// One key of the file and the arguments it stands for.
    struct Setting {
        var key: Key
        var line: Int
        var arguments: [String]
    }

    let path: String
    let settings: [Setting]
    /// Unknown keys, one line each.
    let warnings: [String]

    /// Reads, type-checks and validates the file. Throws a one-line `ConfigError`.
    static func load(path: String) throws -> AgentConfigFile {
        let data = try readBounded(path: path)
        guard let text = String(data: data, encoding: .utf8) else { throw ConfigError(message: "\(path): not UTF-8 text") }
        return try parse(text: text, path: path)
    }

    /// The file's bytes, at most `maxBytes` (a pipe or `/dev/fd/N` as well as a regular file).
    private static func readBounded(path: String) throws -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConfigError(message: "\(path): cannot read: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ConfigError(message: "\(path): cannot read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[0..<count])
            if data.count > maxBytes {
                throw ConfigError(message: "\(path): over the limit of \(maxBytes) bytes for a configuration file")
            }
        }
    }

    /// `text` as the file at `path` (relative paths in it are taken from `path`'s directory).
    static func parse(text: String, path: String) throws -> AgentConfigFile {
        do {
            try PolicyInputLimits(maxBytes: maxBytes).checkText(text)
        } catch {
            throw ConfigError(message: "\(path): \(error)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch YamlError.duplicatedKeysInMapping(let duplicates, _) {
            // Yams names the key but not the line: the line is the key's second occurrence.
            let key = duplicates.sorted().first ?? "?"
            let line = secondOccurrence(of: key, in: text).map { " line \($0)" } ?? ""
            throw ConfigError(message: "\(path)\(line): \(key): given twice")
        } catch let error as YamlError {
            throw ConfigError(message: "\(path): invalid YAML: \(oneLine(error))")
        } catch {
            throw ConfigError(message: "\(path): invalid YAML: \(error)")
        }
        var reader = Reader(path: path, directory: (path as NSString).deletingLastPathComponent)
        if let root, root.null == nil {
            guard let mapping = root.mapping else {
                throw ConfigError(message: "\(path) line \(line(of: root)): expected a mapping of keys (policies, log, outputs, ...)")
            }
            try reader.read(mapping, prefix: [])
        }
        let config = AgentConfigFile(path: path, settings: reader.settings, warnings: reader.warnings)
        try config.validate()
        return config
    }

    /// Each setting alone through `run`'s own checks, so that an error names its key and line.
    private func validate() throws {
        for setting in settings {
            do {
                _ = try RunCommand.parse(setting.arguments)
            } catch {
                let message = RunCommand.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
                throw ConfigError(message: "\(path) line \(setting.line): \(setting.key.name): \(message)")
            }
        }
    }

    /// The file's settings as arguments, then `userArguments`: a flag the user gave replaces the
    /// file's setting for it.
    func arguments(before userArguments: [String]) -> [String] {
        let given = Set(userArguments.filter { $0.hasPrefix("--") }.map { String($0.split(separator: "=", maxSplits: 1)[0]) })
        return settings.filter { !given.contains($0.key.option) }.flatMap(\.arguments) + userArguments
    }

    private struct Reader {
        let path: String
        let directory: String
        var settings: [Setting] = []
        var warnings: [String] = []

        mutating func read(_ mapping: Node.Mapping, prefix: [String]) throws {
            var seen: Set<String> = []
            for (keyNode, value) in mapping {
                let line = AgentConfigFile.line(of: keyNode)
                guard let name = keyNode.scalar?.string else {
                    throw ConfigError(message: "\(path) line \(line): a key must be a plain word")
                }
                let keyPath = prefix + [name]
                let dotted = keyPath.joined(separator: ".")
                guard seen.insert(name).inserted else {
                    throw ConfigError(message: "\(path) line \(line): \(dotted): given twice")
                }
                if let key = AgentConfigFile.keys.first(where: { $0.path == keyPath }) {
                    settings.append(Setting(key: key, line: line, arguments: try arguments(for: key, value, line: line)))
                } else if AgentConfigFile.keys.contains(where: { $0.path.count > keyPath.count && Array($0.path.prefix(keyPath.count)) == keyPath }) {
                    guard let inner = value.mapping else {
                        throw ConfigError(message: "\(path) line \(line): \(dotted): expected a mapping, got \(AgentConfigFile.describe(value))")
                    }
                    try read(inner, prefix: keyPath)
                } else {
                    warnings.append("\(path) line \(line): unknown key '\(dotted)' (ignored)")
                }
            }
        }

        private func arguments(for key: Key, _ value: Node, line: Int) throws -> [String] {
            func fail(_ expected: String) -> ConfigError {
                ConfigError(message: "\(path) line \(line): \(key.name): expected \(expected), got \(AgentConfigFile.describe(value))")
            }
            switch key.kind {
            case .string, .path:
                guard let scalar = value.scalar, value.null == nil else { throw fail("a string") }
                return [key.option, key.kind == .path ? resolve(scalar.string) : scalar.string]
            case .strings, .paths:
                let items: [Node]
                if let sequence = value.sequence {
                    items = Array(sequence)
                } else if value.scalar != nil, value.null == nil {
                    items = [value]
                } else {
                    throw fail("a list of strings")
                }
                return try items.flatMap { item -> [String] in
                    guard let scalar = item.scalar, item.null == nil else { throw fail("a list of strings") }
                    let text = scalar.string
                    return [key.option, key.kind == .paths && text != PolicySources.embeddedName ? resolve(text) : text]
                }
            case .flag, .invertedFlag:
                guard let bool = value.bool else { throw fail("true or false") }
                return bool == (key.kind == .flag) ? [key.option] : []
            case .integer:
                guard let number = value.int else { throw fail("an integer") }
                return [key.option, String(number)]
            }
        }

        private func resolve(_ path: String) -> String {
            path.hasPrefix("/") || directory.isEmpty ? path : (directory as NSString).appendingPathComponent(path)
        }
    }

    fileprivate static func line(of node: Node) -> Int { node.mark?.line ?? 1 }

    fileprivate static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): return node.null != nil ? "nothing" : "'\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The 1-based line of the second `key:` (any indentation) of `text`.
    private static func secondOccurrence(of key: String, in text: String) -> Int? {
        var seen = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop(while: { $0 == " " || $0 == "-" })
            guard trimmed.hasPrefix(key) else { continue }
            let rest = trimmed.dropFirst(key.count).drop(while: { $0 == " " })
            if rest.hasPrefix(":") {
                seen += 1
                if seen == 2 { return index + 1 }
            }
        }
        return nil
    }

    private static func oneLine(_ error: YamlError) -> String {
        "\(error)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
    }
}

/// What `main` read before parsing `run`'s arguments, for `run` to log and to read again on SIGHUP.
enum StartupConfiguration {
    /// The configuration file in use, if any.
    static var file: AgentConfigFile?
    /// `run`'s arguments as the user gave them (the file's settings not merged in).
    static var userArguments: [String] = []

    /// The file `run` reads: `--config FILE` when given, else the default path when it exists.
    static func configPath(in arguments: [String]) -> String? {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument == "--" { break }
            if argument == "--config" { return iterator.next() ?? "" }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return FileManager.default.fileExists(atPath: AgentConfigFile.defaultPath) ? AgentConfigFile.defaultPath : nil
    }
}
