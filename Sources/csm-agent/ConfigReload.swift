import AgentCore

/// What a running agent can change without a restart, taken from `run`'s arguments.
struct ReloadableSettings {
    /// nil: no rule runs (`--all-events` alone).
    var policies: PolicySources?
    var loaderOptions: PolicyLoader.Options
    var rateLimit: RuleRateLimiter.Defaults
    var logLevel: Log.Level
    var logFormat: Log.Format
    /// The settings that take effect at the next start only, as `name=value` words (compared
    /// between the running configuration and the file read again, to say which changes wait).
    var restartOnly: [String]
}

/// SIGHUP with a configuration file: the file is read again, merged with the command line as at
/// start-up (flags still win), and what can change at run time changes. A file that no longer
/// reads or validates leaves the running configuration in place (the policies are still reloaded).
struct ConfigReload {
    let path: String
    let userArguments: [String]

    /// The settings the file gives now, or the one-line reason it cannot be used.
    func reread() -> Result<ReloadableSettings, ConfigError> {
        do {
            let file = try AgentConfigFile.load(path: path)
            for warning in file.warnings { Log.warning("config: \(warning)") }
            let command = try RunCommand.parse(file.arguments(before: userArguments))
            return .success(command.reloadableSettings)
        } catch let error as ConfigError {
            return .failure(error)
        } catch {
            let message = RunCommand.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            return .failure(ConfigError(message: "\(path): \(message)"))
        }
    }
}
