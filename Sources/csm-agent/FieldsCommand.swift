import AgentCore
import ArgumentParser

/// `csm-agent fields`: every SECL field with its type, event type and a one-line description.
struct FieldsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fields", abstract: "List every SECL field.")

    @Flag(help: "Print a JSON array.")
    var json = false

    func run() throws {
        print(PolicyTools.fieldsListing(json: json))
    }
}
