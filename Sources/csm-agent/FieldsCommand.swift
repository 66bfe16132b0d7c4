import ArgumentParser

/// `csm-agent fields` (filled in by the rule-engine work).
struct FieldsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fields", abstract: "List every SECL field.")
}
