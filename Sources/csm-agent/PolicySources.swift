import AgentCore
import CEmbeddedPolicy
import Foundation

/// Where the running agent's rules come from: `--policy FILE` (repeatable; `default` is the
/// embedded policy) and `--policy-dir DIR`, or the embedded default policy when neither is given.
/// Read again, whole, at every reload (a directory's files are listed anew).
struct PolicySources {
    /// The name `--policy` gives the embedded policy.
    static let embeddedName = "default"
    /// The embedded policy's file name: its `agent.policy_name`.
    static let embeddedFileName = "default.policy"

    enum Source: Equatable {
        case embedded
        case file(String)
        case directory(String)
    }

    let sources: [Source]

    init(policies: [String], directories: [String]) {
        var sources = policies.map { $0 == PolicySources.embeddedName ? Source.embedded : .file($0) }
        sources += directories.map(Source.directory)
        self.sources = sources.isEmpty ? [.embedded] : sources
    }

    /// The embedded policy's YAML text.
    static var embeddedText: String {
        let data = UnsafeBufferPointer(start: csm_embedded_default_policy_data(), count: csm_embedded_default_policy_size())
        return String(decoding: data, as: UTF8.self)
    }

    /// One policy file as the agent loaded it.
    struct LoadedFile {
        /// `agent.policy_name`: the file's base name.
        var name: String
        /// The path rules report as their `file` (`default.policy` for the embedded one).
        var path: String
        var version: String?
    }

    /// Everything a load produced; `failures` non-empty means it must not replace running rules.
    struct Loaded {
        var files: [LoadedFile]
        var result: PolicyLoader.Result
        var failures: [String]
    }

    /// Reads and compiles every policy. Never throws: unreadable or invalid files are `failures`.
    func load(options: PolicyLoader.Options) -> Loaded {
        var parsed: [PolicyFile] = []
        var files: [LoadedFile] = []
        var failures: [String] = []
        func add(_ file: PolicyFile, name: String) {
            parsed.append(file)
            files.append(LoadedFile(name: name, path: file.path, version: file.version))
        }
        for source in sources {
            switch source {
            case .embedded:
                do {
                    add(try PolicyParser.parse(text: PolicySources.embeddedText, path: PolicySources.embeddedFileName),
                        name: PolicySources.embeddedFileName)
                } catch {
                    failures.append("embedded policy: \(error)")
                }
            case .file(let path):
                do { add(try PolicyParser.parse(path: path), name: (path as NSString).lastPathComponent) } catch {
                    failures.append("\(error)")
                }
            case .directory(let dir):
                let entries: [String]
                do { entries = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
                    failures.append("\(dir): cannot list policy directory: \((error as NSError).localizedDescription)")
                    continue
                }
                let policies = entries.filter { $0.hasSuffix(".policy") || $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
                if policies.isEmpty { failures.append("\(dir): no *.policy or *.yaml file in policy directory") }
                for name in policies {
                    let path = (dir as NSString).appendingPathComponent(name)
                    do { add(try PolicyParser.parse(path: path), name: name) } catch { failures.append("\(error)") }
                }
            }
        }
        let result = PolicyLoader(options: options).load(files: parsed)
        return Loaded(files: files, result: result, failures: failures)
    }

    /// One log line per policy file with its rule counts, and one warning per rule in error.
    static func logSummary(_ loaded: Loaded, verb: String) {
        for warning in loaded.result.warnings { Log.warning("policy: \(warning)") }
        for file in loaded.files {
            var counts: [RuleStatus: Int] = [:]
            for report in loaded.result.reports where report.file == file.path { counts[report.status, default: 0] += 1 }
            let order: [RuleStatus] = [.loaded, .disabled, .filtered, .unsupported, .error]
            Log.info("policy \(verb): name=\(file.name) version=\(file.version ?? "-") "
                     + order.map { "\($0.rawValue)=\(counts[$0] ?? 0)" }.joined(separator: " "))
        }
        for report in loaded.result.reports where report.status == .error {
            Log.warning("rule \(report.id) (\(report.file)) not loaded: \(report.reason)")
        }
        for report in loaded.result.reports where report.status == .unsupported {
            Log.debug("rule \(report.id) (\(report.file)) unsupported: \(report.reason)")
        }
    }
}
